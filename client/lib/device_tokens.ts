/**
 * Device tokens (OWASP's "device cookie", kept by the app rather than as a cookie): the server
 * gives one at each password login, bound to that user; presented at the next login as the
 * same user (inside the channel only), it keeps this browser's own allowance of attempts, so
 * that strangers failing to log in as that user elsewhere do not lock this browser out. It
 * grants nothing else: no login, no data. Kept in localStorage under a hash of the user name.
 */
import { readLocalMap, setLocalMapEntry } from './local_map.ts';

const KEY = 'medclass.devices';

async function slot(username: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`medclass device\0${username}`));
  return Array.from(new Uint8Array(digest).subarray(0, 12), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function deviceTokenFor(username: string): Promise<string | undefined> {
  const t = readLocalMap(KEY)[await slot(username)];
  return typeof t === 'string' ? t : undefined;
}

export async function keepDeviceToken(username: string, token: string): Promise<void> {
  try {
    setLocalMapEntry(KEY, await slot(username), token);
  } catch {
    // storage refused: the next login counts as from an unknown device
  }
}
