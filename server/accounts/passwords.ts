import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes with scrypt, a memory-hard KDF built into Node (no native add-on to
 * build): N = 2^15, r = 8 costs 32 MiB and about 0.1 s per hash, run on libuv's pool so the
 * event loop keeps serving. Stored as `scrypt$N$r$p$salt$hash` (base64) so costs can rise later.
 */
const COST = { N: 2 ** 15, r: 8, p: 1 };
/** Length beats composition rules (NIST SP 800-63B); twelve keeps guessing offline expensive. */
export const MIN_PASSWORD_LENGTH = 12;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...options, maxmem: 128 * options.N! * options.r! * 2 }, (e, key) =>
      e ? reject(e) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A password for the first admin: 20 characters from a 64-letter alphabet, 120 bits. */
export function generatePassword(): string {
  return randomBytes(15).toString('base64url');
}
