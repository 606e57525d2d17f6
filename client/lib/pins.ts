/**
 * Trust on first use of the server's key, per server (docs/protocol.md section 7). The first
 * pin this copy of the app sees for a server is remembered; a different one later is refused
 * until the user pastes the new pin (re-pin), having got it from their administrator. A pin
 * is public: localStorage is fine, and nothing here is ever sent anywhere.
 */
import { parsePin } from '../../shared/protocol/identity.ts';
import { readLocalMap, setLocalMapEntry } from './local_map.ts';

const KEY = 'medclass.pins';

/** The server's key is not the one this app has trusted before: nothing is sent to it. */
export class PinChangedError extends Error {
  override name = 'PinChangedError';
  readonly code = 'pinChanged';
  constructor(
    readonly server: string,
    /** Fingerprint of the key trusted before. */
    readonly remembered: string,
    /** Fingerprint of the key offered now. */
    readonly offered: string,
  ) {
    super(`the server's key has changed: this app trusted ${remembered.slice(0, 16)}…, the server now offers ${offered.slice(0, 16)}…`);
  }
}

const fingerprintOf = (pin: string): string => pin.split('/')[1] ?? '';

/**
 * The pin to use for `server`, given the one offered now (built in, or from the server's
 * configuration): the first one is remembered; a different one throws PinChangedError.
 */
export function trustPin(server: string, offered: string): string {
  const known = readLocalMap(KEY)[server];
  if (known === undefined) {
    setLocalMapEntry(KEY, server, offered);
    return offered;
  }
  if (fingerprintOf(known) !== fingerprintOf(offered)) throw new PinChangedError(server, fingerprintOf(known), fingerprintOf(offered));
  return known;
}

/** The user's explicit re-pin: the pasted pin must be well formed; it replaces the remembered one. */
export async function repin(server: string, pasted: string): Promise<string> {
  const pin = await parsePin(pasted.trim());
  const text = `sha256/${pin.fingerprint}/${pasted.trim().split('/')[2]}`;
  setLocalMapEntry(KEY, server, text);
  return pin.fingerprint;
}
