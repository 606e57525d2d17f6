import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportIdentity, formatPin, generateIdentity, importIdentity, type ServerIdentity } from '../shared/protocol/identity.ts';

export const IDENTITY_FILE = 'identity.pem';

/**
 * The server's long-term signing key, made at first start and kept in the data folder
 * (PKCS8 PEM, readable by the owner only). Clients pin its fingerprint.
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<{ identity: ServerIdentity; created: boolean }> {
  const file = join(dataDir, IDENTITY_FILE);
  if (existsSync(file)) return { identity: await importIdentity(await readFile(file, 'utf8')), created: false };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const generated = await generateIdentity();
  await writeFile(file, await exportIdentity(generated, 'pem'), { mode: 0o600, flag: 'wx' });
  // Re-imported non-extractable, so the running server cannot leak it through a bug.
  return { identity: await importIdentity(await readFile(file, 'utf8')), created: true };
}

/** What a client pins: the fingerprint and public key, as `sha256/<fingerprint>/<spki>`. */
export const pinString = (identity: ServerIdentity): string => formatPin(identity);

/** A 32-byte secret that an earlier release kept in the data folder; null when there is none. */
export function readSecretFile(dataDir: string, name: string): Uint8Array | null {
  const file = join(dataDir, name);
  if (!existsSync(file)) return null;
  const secret = readFileSync(file);
  if (secret.length !== 32) throw new Error(`${file} is not a 32-byte secret; delete it to make a new one`);
  return new Uint8Array(secret);
}
