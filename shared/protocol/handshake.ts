/**
 * The handshake (docs/protocol.md section 2): ephemeral ECDH P-256 on both sides, the server
 * signs the transcript with its pinned identity key, HKDF-SHA256 turns the shared secret into
 * one traffic secret per direction. Pure functions on byte messages; the socket is elsewhere.
 */
import { bufferSource, concat, equalBytes, randomBytes, toBase64url, utf8 } from './bytes.ts';
import { ProtocolError, guard } from './errors.ts';
import { hkdfBits, importSecret } from './frames.ts';
import type { Pin, ServerIdentity } from './identity.ts';
import { subtle, type Jwk, type Key } from './webcrypto.ts';


export const PROTOCOL_VERSION = 2;
export const CLIENT_HELLO_KIND = 0x01;
export const SERVER_HELLO_KIND = 0x02;
const NONCE_LENGTH = 32;
const POINT_LENGTH = 65;
const FINGERPRINT_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
export const CLIENT_HELLO_LENGTH = 2 + NONCE_LENGTH + POINT_LENGTH; // 99
const SERVER_CORE_LENGTH = 2 + NONCE_LENGTH + POINT_LENGTH + FINGERPRINT_LENGTH; // 131
export const SERVER_HELLO_LENGTH = SERVER_CORE_LENGTH + SIGNATURE_LENGTH; // 195

const LABEL_TRANSCRIPT = utf8('medclass/2 transcript');
const LABEL_SIGNATURE = utf8('medclass/2 server signature\0');
const LABEL_SESSION_ID = utf8('medclass/2 session id');
const INFO_C2S = utf8('medclass/2 c2s');
const INFO_S2C = utf8('medclass/2 s2c');
const ECDH = { name: 'ECDH', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** What a finished handshake hands to the frames: secrets stay non-extractable CryptoKeys. */
export interface SessionKeys {
  role: 'client' | 'server';
  /** 16 bytes, from the transcript; bound into every frame. Public. */
  sessionId: Uint8Array;
  transcriptHash: Uint8Array;
  sendSecret: Key;
  receiveSecret: Key;
  /** base64url fingerprint of the server identity that signed. */
  serverFingerprint: string;
}

/**
 * The exact text of a version refusal, also the server's close reason (close code 4002), so a
 * client of another version can tell its user which version the server needs.
 */
export const versionRefusal = (theirs: number): string => `unsupported protocol version ${theirs}; this server speaks version ${PROTOCOL_VERSION}`;

/**
 * Fixed randomness for the published test vectors (docs/protocol-vectors.json) only: a real
 * handshake always draws its nonce and ephemeral key afresh.
 */
export interface FixedRandomness {
  nonce: Uint8Array;
  /** The ephemeral ECDH P-256 private key as a JWK (d, x, y). */
  ephemeral: Jwk;
}

const bad = (message: string) => new ProtocolError('badHandshake', message);
const sha256 = async (...parts: Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> => new Uint8Array(await subtle().digest('SHA-256', concat(...parts)));

/** Kind, then version, then length: a wrong version is named as such, whatever else is wrong. */
function checkHeader(message: Uint8Array, kind: number, length: number, what: string): void {
  if (!(message instanceof Uint8Array) || message.length < 2) throw bad(`${what} is too short`);
  if (message[0] !== kind) throw bad(`expected ${what} (kind ${kind}), got kind ${message[0]}`);
  if (message[1] !== PROTOCOL_VERSION) throw new ProtocolError('unsupportedVersion', versionRefusal(message[1]!));
  if (message.length !== length) throw bad(`${what} must be ${length} bytes, got ${message.length}`);
}

/** WebCrypto checks the point is on the curve; anything else is refused before any use. */
const importPoint = (point: Uint8Array): Promise<Key> =>
  guard('badHandshake', 'the peer\'s ephemeral key is not a valid P-256 point', () => {
    if (point[0] !== 0x04) throw bad('the peer\'s ephemeral key must be an uncompressed point');
    return subtle().importKey('raw', bufferSource(point), ECDH, true, []);
  });

async function newEphemeral(fixed?: FixedRandomness): Promise<{ privateKey: Key; point: Uint8Array<ArrayBuffer> }> {
  if (fixed) {
    const { kty, crv, x, y, d } = fixed.ephemeral;
    const privateKey = await subtle().importKey('jwk', { kty, crv, x, y, d }, ECDH, false, ['deriveBits']);
    const publicKey = await subtle().importKey('jwk', { kty, crv, x, y }, ECDH, true, []);
    return { privateKey, point: new Uint8Array(await subtle().exportKey('raw', publicKey)) };
  }
  const pair = await subtle().generateKey(ECDH, false, ['deriveBits']);
  return { privateKey: pair.privateKey, point: new Uint8Array(await subtle().exportKey('raw', pair.publicKey)) };
}

async function deriveKeys(
  role: 'client' | 'server',
  own: Key,
  peer: Key,
  transcriptHash: Uint8Array,
  serverFingerprint: Uint8Array,
): Promise<SessionKeys> {
  const z = await guard('badHandshake', 'key agreement failed', async () =>
    importSecret(new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: peer }, own, 256))),
  );
  const c2s = await importSecret(await hkdfBits(z, transcriptHash, INFO_C2S, 32));
  const s2c = await importSecret(await hkdfBits(z, transcriptHash, INFO_S2C, 32));
  return {
    role,
    sessionId: (await sha256(LABEL_SESSION_ID, transcriptHash)).slice(0, 16),
    transcriptHash,
    sendSecret: role === 'client' ? c2s : s2c,
    receiveSecret: role === 'client' ? s2c : c2s,
    serverFingerprint: toBase64url(serverFingerprint),
  };
}

/**
 * The client side: `start` makes the ClientHello, `finish` checks the ServerHello against the
 * pins and derives the keys. One use only; any failure ends it.
 */
export class ClientHandshake {
  private state: 'waiting' | 'done' | 'failed' = 'waiting';

  private constructor(
    private readonly sent: Uint8Array,
    private ephemeral: Key | null,
    private readonly pins: readonly Pin[],
  ) {}

  /** No pin, no session: at least one pinned server key is required. */
  static async start(pins: Pin | readonly Pin[], fixed?: FixedRandomness): Promise<ClientHandshake> {
    const list = (Array.isArray(pins) ? pins : [pins]) as readonly unknown[];
    if (list.length === 0 || !list.every(isPin)) throw new ProtocolError('badKey', 'a pinned server key is required (parsePin)');
    const { privateKey, point } = await newEphemeral(fixed);
    const hello = concat(Uint8Array.of(CLIENT_HELLO_KIND, PROTOCOL_VERSION), fixed?.nonce ?? randomBytes(NONCE_LENGTH), point);
    return new ClientHandshake(hello, privateKey, list as readonly Pin[]);
  }

  /** The ClientHello to send (a copy: what the transcript holds cannot be changed from outside). */
  get hello(): Uint8Array {
    return this.sent.slice();
  }

  async finish(serverHello: Uint8Array): Promise<SessionKeys> {
    if (this.state !== 'waiting') throw bad(`the handshake is already ${this.state === 'done' ? 'finished' : 'failed'}`);
    const ephemeral = this.ephemeral!;
    // latched at once: a second, concurrent finish must not run
    this.state = 'failed';
    this.ephemeral = null;
    checkHeader(serverHello, SERVER_HELLO_KIND, SERVER_HELLO_LENGTH, 'a ServerHello');
    serverHello = serverHello.slice(); // the caller's buffer may change while we wait
    const fingerprint = serverHello.subarray(SERVER_CORE_LENGTH - FINGERPRINT_LENGTH, SERVER_CORE_LENGTH);
    const pin = this.pins.find((p) => equalBytes(p.fingerprintBytes, fingerprint));
    if (!pin) throw new ProtocolError('pinMismatch', `the server's identity ${toBase64url(fingerprint)} is not pinned`);
    const transcriptHash = await sha256(LABEL_TRANSCRIPT, this.sent, serverHello.subarray(0, SERVER_CORE_LENGTH));
    const signature = bufferSource(serverHello.slice(SERVER_CORE_LENGTH));
    const valid = await guard('badSignature', 'the server\'s signature cannot be checked', () =>
      subtle().verify(SIGN, pin.key, signature, concat(LABEL_SIGNATURE, transcriptHash)),
    );
    if (!valid) throw new ProtocolError('badSignature', 'the server\'s handshake signature does not verify against the pinned key');
    const peer = await importPoint(serverHello.subarray(2 + NONCE_LENGTH, 2 + NONCE_LENGTH + POINT_LENGTH));
    const keys = await deriveKeys('client', ephemeral, peer, transcriptHash, fingerprint);
    this.state = 'done';
    return keys;
  }
}

function isPin(p: unknown): p is Pin {
  const pin = p as Pin | null;
  return typeof pin === 'object' && pin !== null && pin.fingerprintBytes instanceof Uint8Array && pin.fingerprintBytes.length === 32 && (pin.key as { type?: unknown } | null)?.type === 'public';
}

/** The server side: one ClientHello in, the ServerHello and the keys out. */
export async function acceptClientHello(clientHello: Uint8Array, identity: ServerIdentity, fixed?: FixedRandomness): Promise<{ reply: Uint8Array; keys: SessionKeys }> {
  checkHeader(clientHello, CLIENT_HELLO_KIND, CLIENT_HELLO_LENGTH, 'a ClientHello');
  const hello = clientHello.slice(); // the caller's buffer may change under us
  const peer = await importPoint(hello.subarray(2 + NONCE_LENGTH));
  const { privateKey, point } = await newEphemeral(fixed);
  const core = concat(Uint8Array.of(SERVER_HELLO_KIND, PROTOCOL_VERSION), fixed?.nonce ?? randomBytes(NONCE_LENGTH), point, identity.fingerprintBytes);
  const transcriptHash = await sha256(LABEL_TRANSCRIPT, hello, core);
  const signature = await guard('badKey', 'the server identity key cannot sign', async () =>
    new Uint8Array(await subtle().sign(SIGN, identity.privateKey, concat(LABEL_SIGNATURE, transcriptHash))),
  );
  const keys = await deriveKeys('server', privateKey, peer, transcriptHash, identity.fingerprintBytes);
  return { reply: concat(core, signature), keys };
}
