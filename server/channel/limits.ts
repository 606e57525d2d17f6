import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../shared/image/index.ts';

/** What one client may ask of the server; each refusal is answered with a clear error. */
export interface ServerLimits {
  /** Largest WebSocket message (one sealed frame). */
  maxMessageBytes: number;
  /** Encoded image size and pixel count (pixel-flood guard), checked before decoding. */
  decode: DecodeLimits;
  /** Images per user per minute. */
  imagesPerMinute: number;
  /** Classify requests in flight on one connection. */
  concurrentPerConnection: number;
  /** A connection that says nothing for this long is closed. */
  idleMs: number;
  /** The handshake must finish within this. */
  handshakeMs: number;
  /** Datasets that admins upload for training (held in memory only). */
  upload: UploadLimits;
}

export interface UploadLimits {
  /** One upload (the ZIP file as sent). */
  maxBytes: number;
  /** Entries in its ZIP file. */
  maxEntries: number;
  /** What its images inflate to, together (zip bombs are refused). */
  maxUncompressedBytes: number;
  /** An upload or a finished training job nobody touches for this long is dropped. */
  idleMs: number;
  /** What all admins' kept uploads may hold in memory together (images inflated); the least recently used go first. */
  keepBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxMessageBytes: 32 * 2 ** 20,
  decode: { ...DEFAULT_DECODE_LIMITS, maxBytes: 32 * 2 ** 20, maxPixels: 25_000_000 },
  imagesPerMinute: 60_000,
  concurrentPerConnection: 8,
  idleMs: 5 * 60_000,
  handshakeMs: 10_000,
  upload: { maxBytes: 512 * 2 ** 20, maxEntries: 200_000, maxUncompressedBytes: 1024 * 2 ** 20, idleMs: 30 * 60_000, keepBytes: 1024 * 2 ** 20 },
});

/** A token bucket per key (user): `perMinute` tokens, refilled continuously. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string, n: number): boolean {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }
}
