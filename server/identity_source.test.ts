import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPin } from '../shared/protocol/identity.ts';
import { identityFromPem, IdentityError, newIdentityPem, resolveIdentity } from './identity_source.ts';

const pemOf = (type: 'ec' | 'rsa' | 'ed25519', options: object, encoding: { type: 'pkcs8' | 'sec1' }) =>
  generateKeyPairSync(type as 'ec', options as { namedCurve: string }).privateKey.export({ format: 'pem', ...encoding }) as string;

describe('the server identity key', () => {
  it('loads a PKCS#8 P-256 PEM, also when its newlines were flattened into spaces or "\\n"', async () => {
    const { pem, identity } = await newIdentityPem();
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const pin = formatPin(identity);
    expect(formatPin(await identityFromPem(pem, 'K'))).toBe(pin);
    expect(formatPin(await identityFromPem(pem.replace(/\n/g, ' '), 'K'))).toBe(pin);
    expect(formatPin(await identityFromPem(pem.replace(/\n/g, '\\n'), 'K'))).toBe(pin);
  });

  it.each([
    ['text that is no PEM', () => 'not a key', /^K is not a PEM key .*medclass identity --new/],
    ['an RSA key', () => pemOf('rsa', { modulusLength: 2048 }, { type: 'pkcs8' }), /^K is an RSA key; the server identity must be an ECDSA P-256 key/],
    ['an Ed25519 key', () => pemOf('ed25519', {}, { type: 'pkcs8' }), /^K is an ED25519 key; .*P-256/],
    ['a P-384 key', () => pemOf('ec', { namedCurve: 'P-384' }, { type: 'pkcs8' }), /^K is an EC key on secp384r1; .*P-256/],
    ['a P-256 key in SEC1 form', () => pemOf('ec', { namedCurve: 'P-256' }, { type: 'sec1' }), /^K is a P-256 key in the "EC PRIVATE KEY" form; .*openssl pkcs8 -topk8/],
    ['a cut PEM', () => pemOf('ec', { namedCurve: 'P-256' }, { type: 'pkcs8' }).replace(/\n[^\n]+\n-----END/, '\n-----END'), /^K is not a readable private key \(damaged or cut PEM/],
    ['a public key', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }) as string, /^K holds a public key, not the private key/],
  ])('refuses %s with one plain line', async (_, make, message) => {
    const error = await identityFromPem(make(), 'K').then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('comes from --identity over MEDCLASS_IDENTITY_KEY, and refuses the data folder with a shared database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medclass-identity-'));
    try {
      const a = await newIdentityPem();
      const b = await newIdentityPem();
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'a.pem'), a.pem, { mode: 0o600 });
      const env = { MEDCLASS_IDENTITY_KEY: b.pem };
      const fromFile = await resolveIdentity({ identityFile: join(dir, 'a.pem'), dataDir: join(dir, 'data'), env });
      expect([formatPin(fromFile.identity), fromFile.source]).toEqual([formatPin(a.identity), `--identity ${join(dir, 'a.pem')}`]);
      const fromEnv = await resolveIdentity({ databaseUrl: 'postgres://x@127.0.0.1/y', dataDir: join(dir, 'data'), env });
      expect([formatPin(fromEnv.identity), fromEnv.source]).toEqual([formatPin(b.identity), 'MEDCLASS_IDENTITY_KEY']);
      await expect(resolveIdentity({ databaseUrl: 'postgres://x@127.0.0.1/y', dataDir: join(dir, 'data'), env: {} })).rejects.toThrow(
        /^with a shared database every instance needs the same identity key, and none was given: make one with `medclass identity --new/,
      );
      await expect(resolveIdentity({ identityFile: join(dir, 'missing.pem'), dataDir: join(dir, 'data'), env: {} })).rejects.toThrow(/^--identity .*missing\.pem: cannot read it \(ENOENT\)$/);
      const folder = await resolveIdentity({ dataDir: join(dir, 'data'), env: {} });
      expect([folder.source, folder.created]).toEqual(['the data folder', true]);
      expect(formatPin((await resolveIdentity({ dataDir: join(dir, 'data'), env: {} })).identity)).toBe(formatPin(folder.identity));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
