/**
 * The server's long-term identity key (ECDSA P-256, SHA-256) and the client's pins of it
 * (docs/protocol.md section 1). The key only signs handshake transcripts.
 */
import { bufferSource, equalBytes, fromBase64url, toBase64url, utf8 } from './bytes.ts';
import { ProtocolError, guard } from './errors.ts';
import { subtle, type Jwk, type Key } from './webcrypto.ts';

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** DER SubjectPublicKeyInfo of an uncompressed P-256 key, as WebCrypto exports it. */
export const SPKI_LENGTH = 91;

export interface ServerIdentity {
  /** Signs handshakes; non-extractable once imported, extractable when freshly generated (to be saved). */
  privateKey: Key;
  publicKey: Key;
  spki: Uint8Array;
  /** SHA-256 of the SPKI, raw (what the ServerHello carries). */
  fingerprintBytes: Uint8Array;
  /** base64url of fingerprintBytes (what people compare). */
  fingerprint: string;
}

/** A pinned server key on the client: checked at parse time to be consistent. */
export interface Pin {
  fingerprint: string;
  fingerprintBytes: Uint8Array;
  spki: Uint8Array;
  /** ECDSA P-256 verification key. */
  key: Key;
}

const badKey = (message: string) => new ProtocolError('badKey', message);

export async function spkiFingerprint(spki: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', bufferSource(spki)));
}

async function identityFrom(privateKey: Key, publicKey: Key): Promise<ServerIdentity> {
  const spki = new Uint8Array(await subtle().exportKey('spki', publicKey));
  const fingerprintBytes = await spkiFingerprint(spki);
  return { privateKey, publicKey, spki, fingerprintBytes, fingerprint: toBase64url(fingerprintBytes) };
}

/** A new identity; its private key is extractable so that it can be exported and saved. */
export async function generateIdentity(): Promise<ServerIdentity> {
  const pair = await subtle().generateKey(ECDSA, true, ['sign', 'verify']);
  return identityFrom(pair.privateKey, pair.publicKey);
}

/** The private key as a JWK object, PKCS8 DER bytes or a PKCS8 PEM text. */
export async function exportIdentity(identity: ServerIdentity, format: 'jwk'): Promise<Jwk>;
export async function exportIdentity(identity: ServerIdentity, format: 'pkcs8'): Promise<Uint8Array>;
export async function exportIdentity(identity: ServerIdentity, format: 'pem'): Promise<string>;
export async function exportIdentity(identity: ServerIdentity, format: 'jwk' | 'pkcs8' | 'pem'): Promise<Jwk | Uint8Array | string> {
  return guard('badKey', 'the identity key cannot be exported (imported keys are not extractable)', async () => {
    if (format === 'jwk') return subtle().exportKey('jwk', identity.privateKey);
    const der = new Uint8Array(await subtle().exportKey('pkcs8', identity.privateKey));
    if (format === 'pkcs8') return der;
    const b64 = toBase64url(der).replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    return `-----BEGIN PRIVATE KEY-----\n${padded.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  });
}

function pemToDer(pem: string): Uint8Array | null {
  const m = /^-----BEGIN PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PRIVATE KEY-----\s*$/.exec(pem.trim());
  if (!m) return null;
  const b64 = m[1]!.replace(/\s+/g, '').replace(/=+$/, '');
  return fromBase64url(b64.replace(/\+/g, '-').replace(/\//g, '_'));
}

/**
 * Loads an identity from a private JWK (object or JSON text), PKCS8 DER bytes or PKCS8 PEM text.
 * The private key comes back non-extractable unless `extractable` is set.
 */
export async function importIdentity(data: Jwk | Uint8Array | string, extractable = false): Promise<ServerIdentity> {
  let jwk: Jwk;
  if (typeof data === 'string') {
    const text = data.trim();
    if (text.startsWith('{')) {
      try {
        jwk = JSON.parse(text) as Jwk;
      } catch {
        throw badKey('the identity key is neither valid JSON (JWK) nor PEM');
      }
    } else {
      const der = pemToDer(text);
      if (!der) throw badKey('the identity key is neither a JWK nor a PKCS8 PEM ("BEGIN PRIVATE KEY")');
      return importIdentity(der, extractable);
    }
  } else if (data instanceof Uint8Array) {
    // PKCS8 has no separate public part in WebCrypto: import extractable once to read x and y
    const key = await guard('badKey', 'the identity key is not a PKCS8 P-256 private key', () =>
      subtle().importKey('pkcs8', bufferSource(data), ECDSA, true, ['sign']),
    );
    jwk = await guard('badKey', 'the identity key cannot be read', () => subtle().exportKey('jwk', key));
  } else {
    jwk = data;
  }
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw badKey('the identity key must be an EC P-256 private key');
  }
  const { kty, crv, x, y, d } = jwk;
  const privateKey = await guard('badKey', 'the identity key is not a valid P-256 private key', () =>
    subtle().importKey('jwk', { kty, crv, x, y, d, ext: extractable }, ECDSA, extractable, ['sign']),
  );
  const publicKey = await guard('badKey', 'the identity key has an invalid public part', () =>
    subtle().importKey('jwk', { kty, crv, x, y }, ECDSA, true, ['verify']),
  );
  // a JWK whose x, y do not belong to d would sign with one key and announce another
  const probe = utf8('medclass/2 identity self-check');
  const ok = await guard('badKey', 'the identity key cannot sign', async () =>
    subtle().verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, await subtle().sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, probe), probe),
  );
  if (!ok) throw badKey('the identity key\'s public part does not match its private part');
  return identityFrom(privateKey, publicKey);
}

/** The pin string of an identity: `sha256/<fingerprint>/<base64url SPKI>`. */
export const formatPin = (identity: Pick<ServerIdentity, 'fingerprint' | 'spki'>): string => `sha256/${identity.fingerprint}/${toBase64url(identity.spki)}`;

/**
 * A pin from its two parts (for configurations that keep them apart). Refuses an SPKI that is
 * not a canonical P-256 key or that does not hash to the fingerprint.
 */
export async function createPin(fingerprint: string, spki: Uint8Array | string): Promise<Pin> {
  const spkiBytes = typeof spki === 'string' ? fromBase64url(spki) : spki;
  const fingerprintBytes = fromBase64url(fingerprint);
  if (!fingerprintBytes || fingerprintBytes.length !== 32) throw badKey('a pin fingerprint is 43 characters of base64url (SHA-256)');
  if (!spkiBytes || spkiBytes.length !== SPKI_LENGTH) throw badKey('a pinned key must be a P-256 SPKI (91 bytes) in base64url');
  const key = await guard('badKey', 'the pinned key is not a P-256 public key', () =>
    subtle().importKey('spki', bufferSource(spkiBytes), ECDSA, true, ['verify']),
  );
  // canonical form only: the fingerprint names these exact bytes, and so must the server's
  const canonical = new Uint8Array(await subtle().exportKey('spki', key));
  if (!equalBytes(canonical, spkiBytes)) throw badKey('the pinned key is not in canonical SPKI form');
  if (!equalBytes(await spkiFingerprint(spkiBytes), fingerprintBytes)) throw badKey('the pinned key does not match its fingerprint');
  return { fingerprint: toBase64url(fingerprintBytes), fingerprintBytes, spki: spkiBytes, key };
}

/** Parses `sha256/<fingerprint>/<base64url SPKI>`. */
export async function parsePin(text: string): Promise<Pin> {
  const parts = typeof text === 'string' ? text.trim().split('/') : [];
  if (parts.length !== 3 || parts[0] !== 'sha256') throw badKey('a pin reads sha256/<fingerprint>/<key>');
  return createPin(parts[1]!, parts[2]!);
}

/** The pin of an identity (the server prints it for its clients). */
export const pinOf = (identity: ServerIdentity): Promise<Pin> => createPin(identity.fingerprint, identity.spki);
