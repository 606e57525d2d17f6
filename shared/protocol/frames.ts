/**
 * Frames (docs/protocol.md section 3): AES-256-GCM with a per-direction counter as nonce, the
 * session id, direction, counter, epoch and message type bound as additional data, strict
 * in-order delivery, and in-band rekeying. Sealer and opener each run their operations one at
 * a time, in call order, so concurrent callers can never share a counter or see state half-moved.
 */
import { bufferSource, getU64, setU64, utf8 } from './bytes.ts';
import { ProtocolError, type ProtocolErrorCode } from './errors.ts';
import { subtle, type Key } from './webcrypto.ts';

export const FRAME_KIND = 0x03;
export const FRAME_HEADER_LENGTH = 20;
export const TAG_LENGTH = 16;
export const FLAG_KEY_UPDATE = 0x01;
export const MAX_EPOCH = 0xffffffff;

export type Direction = 'c2s' | 's2c';
export const DIRECTION_BYTE: Record<Direction, number> = { c2s: 0x01, s2c: 0x02 };

export interface FrameLimits {
  /** The sender announces a new key after this many frames under one key... */
  rekeyAfterFrames: number;
  /** ...or this many plaintext bytes. */
  rekeyAfterBytes: number;
  /** Hard stop, either side: more frames than this under one key close the session. */
  maxFramesPerKey: number;
  /** Hard stop in plaintext bytes under one key. */
  maxBytesPerKey: number;
  /** Frames per direction over the whole session. */
  maxCounter: number;
  /** Largest plaintext (envelope) of one frame. */
  maxMessageBytes: number;
}

/** One 64 MiB original image (the decoder's limit) plus room for its envelope. */
export const MAX_MESSAGE_BYTES = 65 * 2 ** 20;

/**
 * Rekey far inside AES-GCM's margins (TLS 1.3 allows ~2^24.5 full records per key); the hard
 * stop, well below 2^32 frames, only catches a peer that does not rekey.
 */
export const DEFAULT_LIMITS: Readonly<FrameLimits> = Object.freeze({
  rekeyAfterFrames: 2 ** 20,
  rekeyAfterBytes: 2 ** 32,
  maxFramesPerKey: 2 ** 24,
  maxBytesPerKey: 2 ** 34,
  maxCounter: 2 ** 48,
  maxMessageBytes: MAX_MESSAGE_BYTES,
});

/** Limits may be lowered (tests do), never raised. */
export function resolveLimits(overrides: Partial<FrameLimits> = {}): FrameLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof FrameLimits)[]) {
    const v = overrides[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`frame limit ${key} must be a positive integer`);
    out[key] = Math.min(v, DEFAULT_LIMITS[key]);
  }
  return out;
}

const INFO_KEY = utf8('medclass/2 key');
const INFO_NEXT = utf8('medclass/2 next');
const NO_SALT = new Uint8Array(0);

/** A traffic secret as a non-extractable HKDF key. */
export const importSecret = (bits: Uint8Array): Promise<Key> =>
  subtle().importKey('raw', bufferSource(bits), 'HKDF', false, ['deriveBits', 'deriveKey']);

export const hkdfBits = async (ikm: Key, salt: Uint8Array, info: Uint8Array, bytes: number): Promise<Uint8Array<ArrayBuffer>> =>
  new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: bufferSource(salt), info: bufferSource(info) }, ikm, bytes * 8));

/**
 * AES-256-GCM with a 128-bit tag, as the frames use it: who runs the cipher. The keys are
 * always derived by WebCrypto (HKDF into a non-extractable AES-GCM key); a provider gets
 * that key once per epoch (`prepare`) and may turn it into its own form. The default is
 * WebCrypto itself; a server may install a faster one (node:crypto: see
 * server/crypto/node_aead.ts) with `setFrameAead`. Any provider must give the same bytes:
 * the peer may use another.
 */
export interface FrameAead<H = unknown> {
  /** The provider's form of an epoch's key. */
  prepare(key: Key): H | Promise<H>;
  /** ciphertext ‖ tag (16 bytes). */
  encrypt(key: H, iv: Uint8Array, additionalData: Uint8Array, plaintext: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** The plaintext; throws when the tag does not verify. */
  decrypt(key: H, iv: Uint8Array, additionalData: Uint8Array, sealed: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** WebCrypto's AES-GCM: what browsers and the client use, and the default everywhere. */
export const webCryptoAead: FrameAead<Key> = {
  prepare: (key) => key,
  encrypt: async (key, iv, additionalData, plaintext) =>
    new Uint8Array(
      await subtle().encrypt({ name: 'AES-GCM', iv: bufferSource(iv), additionalData: bufferSource(additionalData), tagLength: 128 }, key, bufferSource(plaintext)),
    ),
  decrypt: async (key, iv, additionalData, sealed) =>
    new Uint8Array(
      await subtle().decrypt({ name: 'AES-GCM', iv: bufferSource(iv), additionalData: bufferSource(additionalData), tagLength: 128 }, key, bufferSource(sealed)),
    ),
};

let defaultAead: FrameAead = webCryptoAead;

/**
 * The AEAD of the frame ends made from now on, in this process (or thread), for those not
 * given one; null: WebCrypto again. Ends already made keep theirs, rekeys included.
 */
export function setFrameAead(aead: FrameAead | null): void {
  defaultAead = aead ?? webCryptoAead;
}

export const frameAead = (): FrameAead => defaultAead;

interface Epoch {
  epoch: number;
  secret: Key;
  /** The provider's form of the epoch's key. */
  key: unknown;
  frames: number;
  bytes: number;
}

async function epochFrom(secret: Key, epoch: number, aead: FrameAead): Promise<Epoch> {
  const key = await subtle().deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: NO_SALT, info: INFO_KEY },
    secret,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  return { epoch, secret, key: await aead.prepare(key), frames: 0, bytes: 0 };
}

/** The next epoch: a one-way step, so the new key says nothing about the old traffic. */
const nextEpoch = async (e: Epoch, aead: FrameAead): Promise<Epoch> =>
  epochFrom(await importSecret(await hkdfBits(e.secret, NO_SALT, INFO_NEXT, 32)), e.epoch + 1, aead);

function nonce(epoch: number, counter: number): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12);
  const view = new DataView(n.buffer);
  view.setUint32(0, epoch);
  setU64(view, 4, counter);
  return n;
}

/** AD = session id ‖ header: what the frame claims to be is authenticated along with it. */
function additionalData(sessionId: Uint8Array, header: Uint8Array): Uint8Array<ArrayBuffer> {
  const ad = new Uint8Array(sessionId.length + FRAME_HEADER_LENGTH);
  ad.set(sessionId);
  ad.set(header.subarray(0, FRAME_HEADER_LENGTH), sessionId.length);
  return ad;
}

/** What sealer and opener share: the one-at-a-time queue and the fatal latch. */
abstract class FrameEnd {
  protected current: Epoch;
  protected counter = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: ProtocolErrorCode | null = null;

  protected constructor(
    protected readonly sessionId: Uint8Array,
    protected readonly direction: Direction,
    first: Epoch,
    protected readonly limits: FrameLimits,
    protected readonly aead: FrameAead,
  ) {
    this.current = first;
  }

  get epoch(): number {
    return this.current.epoch;
  }
  /** The next counter this end will use (sealer) or accept (opener). */
  get nextCounter(): number {
    return this.counter;
  }
  get failedWith(): ProtocolErrorCode | null {
    return this.failure;
  }

  /** Stops this end for good; later calls throw `closed`. */
  close(code: ProtocolErrorCode = 'closed'): void {
    this.failure ??= code;
  }

  protected serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure) throw new ProtocolError('closed', `the session is closed (${this.failure})`);
      return step();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Moves to the next epoch; if that could fail, this end must not go on with the old key. */
  protected async next(e: Epoch): Promise<Epoch> {
    try {
      return await nextEpoch(e, this.aead);
    } catch {
      this.fatal('badKey', 'the next key could not be derived');
    }
  }

  /** Throws and latches: after a fatal error, nothing more is sealed or opened. */
  protected fatal(code: ProtocolErrorCode, message: string): never {
    this.close(code);
    throw new ProtocolError(code, message);
  }
}

export class FrameSealer extends FrameEnd {
  private rekeyRequested = false;

  static async create(sessionId: Uint8Array, direction: Direction, secret: Key, limits: FrameLimits, aead: FrameAead = defaultAead): Promise<FrameSealer> {
    return new FrameSealer(sessionId, direction, await epochFrom(secret, 0, aead), limits, aead);
  }

  /** The next frame announces a new key. */
  requestRekey(): void {
    this.rekeyRequested = true;
  }

  /**
   * Seals one frame. `tooLarge` and a bad type refuse just this call; running out of key or
   * counter closes the sealer.
   */
  seal(type: number, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.serial(async () => {
      if (!Number.isInteger(type) || type < 1 || type > 127) throw new ProtocolError('badFrame', 'a message type is 1 to 127');
      if (plaintext.length > this.limits.maxMessageBytes)
        throw new ProtocolError('tooLarge', `a message of ${plaintext.length} bytes is above the limit of ${this.limits.maxMessageBytes}`);
      const e = this.current;
      if (this.counter >= this.limits.maxCounter) this.fatal('keyExhausted', 'the frame counter is used up; start a new session');
      if (e.frames >= this.limits.maxFramesPerKey || e.bytes + plaintext.length > this.limits.maxBytesPerKey)
        this.fatal('keyExhausted', `key epoch ${e.epoch} reached its limit and cannot be replaced; start a new session`);
      const update =
        e.epoch < MAX_EPOCH &&
        (this.rekeyRequested || e.frames + 1 >= this.limits.rekeyAfterFrames || e.bytes + plaintext.length >= this.limits.rekeyAfterBytes);
      // the counter moves before anything can fail, so no value is ever sealed twice
      const counter = this.counter++;
      e.frames += 1;
      e.bytes += plaintext.length;

      const frame = new Uint8Array(FRAME_HEADER_LENGTH + plaintext.length + TAG_LENGTH);
      const view = new DataView(frame.buffer);
      frame[0] = FRAME_KIND;
      frame[1] = type;
      frame[2] = DIRECTION_BYTE[this.direction];
      frame[3] = update ? FLAG_KEY_UPDATE : 0;
      view.setUint32(4, e.epoch);
      setU64(view, 8, counter);
      view.setUint32(16, plaintext.length + TAG_LENGTH);
      let sealed: Uint8Array;
      try {
        sealed = await this.aead.encrypt(e.key, nonce(e.epoch, counter), additionalData(this.sessionId, frame), plaintext);
      } catch {
        this.fatal('badKey', 'the session key failed to encrypt');
      }
      if (sealed.length !== plaintext.length + TAG_LENGTH) this.fatal('badKey', 'the session key failed to encrypt');
      frame.set(sealed, FRAME_HEADER_LENGTH);
      if (update) {
        this.current = await this.next(e);
        this.rekeyRequested = false;
      }
      return frame;
    });
  }
}

export interface OpenedFrame {
  type: number;
  /** The epoch the frame was sealed under. */
  epoch: number;
  counter: number;
  plaintext: Uint8Array;
}

export class FrameOpener extends FrameEnd {
  static async create(sessionId: Uint8Array, direction: Direction, secret: Key, limits: FrameLimits, aead: FrameAead = defaultAead): Promise<FrameOpener> {
    return new FrameOpener(sessionId, direction, await epochFrom(secret, 0, aead), limits, aead);
  }

  /** Opens the next frame; any failure closes the opener (docs/protocol.md section 3 lists the checks in order). */
  open(frame: Uint8Array): Promise<OpenedFrame> {
    return this.serial(async () => {
      if (!(frame instanceof Uint8Array)) this.fatal('badFrame', 'a frame must be bytes');
      if (frame.length < FRAME_HEADER_LENGTH) this.fatal('truncated', `a frame of ${frame.length} bytes is shorter than its header`);
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      const [kind, type, direction, flags] = [frame[0]!, frame[1]!, frame[2]!, frame[3]!];
      if (kind !== FRAME_KIND) this.fatal('badFrame', 'not a frame (wrong kind byte)');
      if (type < 1 || type > 127) this.fatal('badFrame', 'a frame\'s message type is 1 to 127');
      if ((flags & ~FLAG_KEY_UPDATE) !== 0) this.fatal('badFrame', 'a frame has unknown flags');
      if (direction !== DIRECTION_BYTE[this.direction]) this.fatal('badFrame', 'a frame for the other direction (reflected?)');
      const length = view.getUint32(16);
      if (length < TAG_LENGTH) this.fatal('badFrame', 'a frame is shorter than its tag');
      if (length - TAG_LENGTH > this.limits.maxMessageBytes)
        this.fatal('tooLarge', `a frame of ${length} bytes is above the limit of ${this.limits.maxMessageBytes}`);
      if (frame.length < FRAME_HEADER_LENGTH + length)
        this.fatal('truncated', `a frame has ${frame.length - FRAME_HEADER_LENGTH} of its ${length} bytes`);
      if (frame.length > FRAME_HEADER_LENGTH + length) this.fatal('badFrame', 'bytes after the end of a frame');

      const counter = getU64(view, 8);
      if (counter < this.counter) this.fatal('replay', `frame ${counter} was already received (expected ${this.counter})`);
      if (counter > this.counter) this.fatal('reorder', `frame ${counter} arrived where ${this.counter} was expected`);
      const e = this.current;
      const epoch = view.getUint32(4);
      if (epoch !== e.epoch) this.fatal('tampered', `frame ${counter} names key epoch ${epoch}, the current one is ${e.epoch}`);
      const size = length - TAG_LENGTH;
      if (e.frames >= this.limits.maxFramesPerKey || e.bytes + size > this.limits.maxBytesPerKey || counter >= this.limits.maxCounter)
        this.fatal('keyExhausted', `key epoch ${epoch} is past its limit: the peer did not rekey`);

      let plaintext: Uint8Array;
      try {
        plaintext = await this.aead.decrypt(e.key, nonce(epoch, counter), additionalData(this.sessionId, frame), frame.subarray(FRAME_HEADER_LENGTH));
        if (plaintext.length !== size) throw new Error('wrong length');
      } catch {
        this.fatal('tampered', `frame ${counter} failed authentication (altered, or not sealed for this session and key)`);
      }
      // only an authentic frame moves the state
      this.counter++;
      e.frames += 1;
      e.bytes += size;
      if (flags & FLAG_KEY_UPDATE) {
        if (e.epoch >= MAX_EPOCH) this.fatal('keyExhausted', 'the peer announced a key epoch past the last one');
        this.current = await this.next(e);
      }
      return { type, epoch, counter, plaintext };
    });
  }
}
