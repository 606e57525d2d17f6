/**
 * Test vectors of the channel (docs/protocol.md section 8): a fixed handshake and one sealed
 * frame each way, computed by the project's own code from fixed inputs, with every
 * intermediate value an implementer needs to compare, in hex. `npm run vectors` writes
 * docs/protocol-vectors.json; test/protocol_vectors.test.ts recomputes it byte for byte.
 *
 * The intermediate secrets (Z, traffic secrets, AES keys) are computed here a second time with
 * plain WebCrypto calls, because the implementation keeps them as non-extractable keys; the
 * frames then tie the two together (they are sealed by the implementation and checked against
 * AES-GCM with the published key).
 */
import { concat, toBase64url, toHex, utf8 } from '../shared/protocol/bytes.ts';
import { webCryptoAead, setFrameAead } from '../shared/protocol/frames.ts';
import { acceptClientHello, ClientHandshake, type FixedRandomness } from '../shared/protocol/handshake.ts';
import { formatPin, importIdentity, pinOf } from '../shared/protocol/identity.ts';
import { encodeMessage, type ClientMessage, type ServerMessage } from '../shared/protocol/messages.ts';
import { SecureSession } from '../shared/protocol/session.ts';
import type { Jwk } from '../shared/protocol/webcrypto.ts';

export interface VectorInputs {
  /** The server identity's private key (ECDSA P-256), a JWK. */
  identity: Jwk;
  client: { ephemeral: Jwk; nonce: string };
  server: { ephemeral: Jwk; nonce: string };
  c2sMessage: ClientMessage;
  s2cMessage: ServerMessage;
}

export interface Vectors {
  description: string;
  inputs: VectorInputs;
  pin: string;
  identitySpkiHex: string;
  fingerprintHex: string;
  clientHello: string;
  serverHelloCore: string;
  /** One valid signature: ECDSA as WebCrypto does it is randomised, so yours will differ; verify it. */
  signature: string;
  serverHello: string;
  transcriptHash: string;
  sharedSecretZ: string;
  sessionId: string;
  c2s: DirectionVectors;
  s2c: DirectionVectors;
}

interface DirectionVectors {
  /** S[0], the epoch-0 traffic secret. */
  secret0: string;
  /** K[0], the epoch-0 AES-256-GCM key. */
  key0: string;
  /** S[1], the next epoch's secret (after a KEY_UPDATE). */
  secret1: string;
  /** The message, its envelope, the nonce, the additional data and the sealed frame (counter 0, epoch 0). */
  message: string;
  envelope: string;
  nonce: string;
  additionalData: string;
  frame: string;
}

const fromHex = (hex: string): Uint8Array<ArrayBuffer> => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const subtle = () => globalThis.crypto.subtle;

async function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', ikm as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, info: utf8(info) }, key, 256));
}

const fixed = (side: { ephemeral: Jwk; nonce: string }): FixedRandomness => ({ ephemeral: side.ephemeral, nonce: fromHex(side.nonce) });

/** Everything, from the inputs; `signature` is the one to put in the ServerHello (or a fresh one when null). */
export async function computeVectors(inputs: VectorInputs, signature: string | null): Promise<Vectors> {
  const identity = await importIdentity(inputs.identity);
  const pin = await pinOf(identity);
  const client = await ClientHandshake.start(pin, fixed(inputs.client));
  const { reply } = await acceptClientHello(client.hello, identity, fixed(inputs.server));
  const core = reply.slice(0, 131);
  const sig = signature ? fromHex(signature) : reply.slice(131);
  const serverHello = concat(core, sig);
  const clientKeys = await client.finish(serverHello);

  // the same values by plain WebCrypto calls, for the reader
  const { kty, crv, x, y, d } = inputs.client.ephemeral;
  const own = await subtle().importKey('jwk', { kty, crv, x, y, d }, { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const peer = await subtle().importKey('raw', core.slice(34, 99), { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  const z = new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: peer }, own, 256));
  const th = new Uint8Array(await subtle().digest('SHA-256', concat(utf8('medclass/2 transcript'), client.hello, core)));
  const sessionId = new Uint8Array(await subtle().digest('SHA-256', concat(utf8('medclass/2 session id'), th))).slice(0, 16);
  if (toHex(sessionId) !== toHex(clientKeys.sessionId) || toHex(th) !== toHex(clientKeys.transcriptHash)) throw new Error('the session id or transcript hash differ');

  setFrameAead(webCryptoAead);
  const clientSession = await SecureSession.fromKeys<ClientMessage, ServerMessage>(clientKeys);
  const { keys: serverKeys } = await acceptClientHello(client.hello, identity, fixed(inputs.server));
  const serverSession = await SecureSession.fromKeys<ServerMessage, ClientMessage>(serverKeys);

  const direction = async (info: string, message: ClientMessage | ServerMessage, frame: Uint8Array, directionByte: number): Promise<DirectionVectors> => {
    const secret0 = await hkdf(z, th, info);
    const key0 = await hkdf(secret0, new Uint8Array(0), 'medclass/2 key');
    const secret1 = await hkdf(secret0, new Uint8Array(0), 'medclass/2 next');
    const envelope = encodeMessage(message);
    const nonce = new Uint8Array(12); // epoch 0, counter 0
    const additionalData = concat(sessionId, frame.slice(0, 20));
    // the frame's ciphertext is AES-256-GCM under key0, as published
    const aes = await subtle().importKey('raw', key0 as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
    const sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData, tagLength: 128 }, aes, envelope as Uint8Array<ArrayBuffer>));
    if (toHex(sealed) !== toHex(frame.slice(20)) || frame[2] !== directionByte) throw new Error(`the ${info} frame is not AES-GCM under the published key`);
    return {
      secret0: toHex(secret0),
      key0: toHex(key0),
      secret1: toHex(secret1),
      message: JSON.stringify(message),
      envelope: toHex(envelope),
      nonce: toHex(nonce),
      additionalData: toHex(additionalData),
      frame: toHex(frame),
    };
  };
  const c2sFrame = await clientSession.seal(inputs.c2sMessage);
  const s2cFrame = await serverSession.seal(inputs.s2cMessage);
  // and each side opens the other's
  if (JSON.stringify(await serverSession.open(c2sFrame)) !== JSON.stringify(inputs.c2sMessage)) throw new Error('the server did not open the c2s frame');
  if (JSON.stringify(await clientSession.open(s2cFrame)) !== JSON.stringify(inputs.s2cMessage)) throw new Error('the client did not open the s2c frame');

  return {
    description:
      'MedClass channel v2 test vectors (docs/protocol.md section 8). Hex unless said otherwise; JWKs as WebCrypto exports them. ' +
      'Recompute clientHello, serverHelloCore, transcriptHash, sharedSecretZ, sessionId, the secrets, keys and frames byte for byte; ' +
      'the signature is randomised ECDSA: verify it against the pin instead of reproducing it.',
    inputs,
    pin: formatPin(identity),
    identitySpkiHex: toHex(identity.spki),
    fingerprintHex: toHex(identity.fingerprintBytes),
    clientHello: toHex(client.hello),
    serverHelloCore: toHex(core),
    signature: toHex(sig),
    serverHello: toHex(serverHello),
    transcriptHash: toHex(th),
    sharedSecretZ: toHex(z),
    sessionId: toHex(sessionId),
    c2s: await direction('medclass/2 c2s', inputs.c2sMessage, c2sFrame, 1),
    s2c: await direction('medclass/2 s2c', inputs.s2cMessage, s2cFrame, 2),
  };
}

/** Fresh inputs: new keys, the nonces 00..1f and 20..3f, a login each way. */
export async function newInputs(): Promise<VectorInputs> {
  const ecdsa = await subtle().generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const ecdh = async () => {
    const pair = await subtle().generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
    const { kty, crv, x, y, d } = await subtle().exportKey('jwk', pair.privateKey);
    return { kty, crv, x, y, d } as Jwk;
  };
  const { kty, crv, x, y, d } = await subtle().exportKey('jwk', ecdsa.privateKey);
  return {
    identity: { kty, crv, x, y, d } as Jwk,
    client: { ephemeral: await ecdh(), nonce: toHex(Uint8Array.from({ length: 32 }, (_, i) => i)) },
    server: { ephemeral: await ecdh(), nonce: toHex(Uint8Array.from({ length: 32 }, (_, i) => 32 + i)) },
    c2sMessage: { type: 'login', requestId: 'r1', username: 'ann', password: 'correct horse battery staple' },
    s2cMessage: { type: 'loggedIn', requestId: 'r1', user: 'ann', role: 'clinician', token: toBase64url(Uint8Array.from({ length: 32 }, (_, i) => 255 - i)), expiresAt: 1_800_000_000_000 },
  };
}

export { fromHex };
