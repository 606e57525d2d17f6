import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from './bytes.ts';
import { createPin, exportIdentity, formatPin, generateIdentity, importIdentity, parsePin, pinOf } from './identity.ts';
import { protocolErrorCode as code } from './testing.ts';

describe('identity', () => {
  it('exports and imports as JWK, PKCS8 and PEM with the same fingerprint', async () => {
    const id = await generateIdentity();
    expect(id.fingerprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(id.spki.length).toBe(91);
    const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', id.spki as Uint8Array<ArrayBuffer>));
    expect(id.fingerprint).toBe(toBase64url(sha));

    const jwk = await exportIdentity(id, 'jwk');
    const pkcs8 = await exportIdentity(id, 'pkcs8');
    const pem = await exportIdentity(id, 'pem');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    for (const source of [jwk, JSON.stringify(jwk), pkcs8, pem]) {
      const back = await importIdentity(source);
      expect(back.fingerprint).toBe(id.fingerprint);
      expect(back.privateKey.extractable).toBe(false);
    }
    // an imported key is not extractable, so it cannot be exported again
    expect(await code(exportIdentity(await importIdentity(jwk), 'jwk'))).toBe('badKey');
  });

  it('refuses a JWK whose public part belongs to another key', async () => {
    const a = await exportIdentity(await generateIdentity(), 'jwk');
    const b = await exportIdentity(await generateIdentity(), 'jwk');
    expect(await code(importIdentity({ ...a, x: b.x, y: b.y }))).toBe('badKey');
  });

  it('refuses keys that are not P-256 ECDSA private keys', async () => {
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign']);
    const p384jwk = await crypto.subtle.exportKey('jwk', p384.privateKey);
    const p384pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', p384.privateKey));
    const pub = await exportIdentity(await generateIdentity(), 'jwk');
    for (const bad of [p384jwk, p384pkcs8, { ...pub, d: undefined }, '{not json', '-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----', new Uint8Array(10), 'hello']) {
      expect(await code(importIdentity(bad as JsonWebKey))).toBe('badKey');
    }
  });

  it('parses pins and checks them', async () => {
    const id = await generateIdentity();
    const text = formatPin(id);
    expect(text).toMatch(/^sha256\/[A-Za-z0-9_-]{43}\/[A-Za-z0-9_-]+$/);
    const pin = await parsePin(text);
    expect(pin.fingerprint).toBe(id.fingerprint);
    expect((await pinOf(id)).fingerprint).toBe(id.fingerprint);
    expect((await createPin(id.fingerprint, toBase64url(id.spki))).fingerprint).toBe(id.fingerprint);

    const other = await generateIdentity();
    const [, fp, spki] = text.split('/') as [string, string, string];
    const cases = [
      `sha256/${other.fingerprint}/${spki}`, // fingerprint of another key
      `sha256/${fp}/${toBase64url(other.spki)}`,
      `sha1/${fp}/${spki}`,
      `sha256/${fp}`,
      `sha256/${fp}/${spki}=`, // padding is not canonical base64url
      `sha256/${fp}/${spki.slice(0, -1)}`,
      `sha256/${fp.slice(0, -1)}${fp.endsWith('B') ? 'C' : 'B'}/${spki}`, // another fingerprint, whatever its last letter
      `sha256/${fp}/+${spki.slice(1)}`, // '+' is not base64url
      '',
    ];
    for (const bad of cases) expect(await code(parsePin(bad)), bad).toBe('badKey');
    // a P-384 key is not a pin, even with its right fingerprint
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    const p384spki = new Uint8Array(await crypto.subtle.exportKey('spki', p384.publicKey));
    const p384fp = new Uint8Array(await crypto.subtle.digest('SHA-256', p384spki));
    expect(await code(createPin(toBase64url(p384fp), p384spki))).toBe('badKey');
  });

  it('base64url is strict and canonical', () => {
    const bytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 255);
    for (let n = 0; n <= bytes.length; n++) {
      const text = toBase64url(bytes.subarray(0, n));
      expect(fromBase64url(text)).toEqual(bytes.subarray(0, n));
    }
    expect(fromBase64url('AB')).toBeNull(); // non-zero unused bits
    expect(fromBase64url('AA')).toEqual(Uint8Array.of(0));
    expect(fromBase64url('A')).toBeNull();
    expect(fromBase64url('AA==')).toBeNull();
    expect(fromBase64url('A A')).toBeNull();
  });
});
