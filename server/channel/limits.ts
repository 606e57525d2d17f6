import { z } from 'zod';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../shared/image/index.ts';
import { DEFAULT_LOGIN_LIMITS, type LoginGuardLimits } from '../accounts/login_guard.ts';
import type { AddressLimitsConfig } from './address_limits.ts';
import type { Store } from '../store/store.ts';
import type { ShareLimits } from './user_shares.ts';

/** What one client may ask of the server; each refusal is answered with a clear error. */
export interface ServerLimits {
  /** Largest WebSocket message (one sealed frame). */
  maxMessageBytes: number;
  /** Encoded image size and pixel count (pixel-flood guard), checked before decoding. */
  decode: DecodeLimits;
  /** Images per user per minute. */
  imagesPerMinute: number;
  /** Classify requests in flight on one connection (the per-user and total shares apply as well). */
  concurrentPerConnection: number;
  /** Requests and bytes in flight per user and in all (user_shares.ts). */
  shares: ShareLimits;
  /** Connections and handshakes per client address (address_limits.ts). */
  addresses: AddressLimitsConfig;
  /** Login attempts: per address, per user, in all; hashes at once (login_guard.ts). */
  login: LoginGuardLimits;
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
  /** A model document published over the channel (`publishModel`: trained in an admin's browser), in bytes. */
  maxModelBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxMessageBytes: 32 * 2 ** 20,
  decode: { ...DEFAULT_DECODE_LIMITS, maxBytes: 32 * 2 ** 20, maxPixels: 25_000_000 },
  // about 20 a second for a minute: a folder at a time, not the whole server's capacity for one user
  imagesPerMinute: 1_200,
  concurrentPerConnection: 8,
  shares: { inFlightPerUser: 8, queuedBytesPerUser: 64 * 2 ** 20, inFlightTotal: 256, queuedBytesTotal: 512 * 2 ** 20 },
  // generous per address: a hospital's clients often share one public address
  addresses: { connectionsPerAddress: 256, maxConnections: 4096, handshakesPerAddressPerMinute: 600, maxAddresses: 50_000 },
  login: DEFAULT_LOGIN_LIMITS,
  idleMs: 5 * 60_000,
  handshakeMs: 10_000,
  upload: { maxBytes: 512 * 2 ** 20, maxEntries: 200_000, maxUncompressedBytes: 1024 * 2 ** 20, idleMs: 30 * 60_000, keepBytes: 1024 * 2 ** 20, maxModelBytes: 24 * 2 ** 20 },
});

/** A token bucket per key (user): `perMinute` tokens, refilled continuously. */
/** Images a user may classify a minute: counted in this process, or in the shared store. */
export interface ImageRateLimit {
  /** Takes `n` from the key's allowance; false (and nothing taken) when it would go over. */
  take(key: string, n: number): boolean | Promise<boolean>;
}

/**
 * The allowance counted in the store, so that several instances on one database count one
 * user together: a fixed window of a minute per user (a burst may straddle two windows).
 */
export class SharedRateLimiter implements ImageRateLimit {
  constructor(
    private readonly store: Pick<Store, 'addToCounter'>,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string, n: number): Promise<boolean> {
    const windowStart = Math.floor(this.now() / 60_000) * 60_000;
    const total = await this.store.addToCounter(`images:${key}`, windowStart, n);
    if (total <= this.perMinute) return true;
    // a refused request uses none of the allowance
    await this.store.addToCounter(`images:${key}`, windowStart, -n);
    return false;
  }
}

/** One process's allowance: a token bucket refilled continuously. */
export class RateLimiter implements ImageRateLimit {
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

/** Limits as the server options and `MEDCLASS_LIMITS` (JSON) give them: any part, nested parts partial too. */
export type LimitsOverride = Partial<Omit<ServerLimits, 'upload' | 'shares' | 'addresses' | 'login' | 'decode'>> & {
  upload?: Partial<UploadLimits>;
  shares?: Partial<ShareLimits>;
  addresses?: Partial<AddressLimitsConfig>;
  login?: Partial<LoginGuardLimits>;
  decode?: Partial<DecodeLimits>;
};

export function resolveLimits(o: LimitsOverride = {}): ServerLimits {
  const d = DEFAULT_SERVER_LIMITS;
  return {
    ...d,
    ...o,
    decode: { ...d.decode, ...o.decode },
    upload: { ...d.upload, ...o.upload },
    shares: { ...d.shares, ...o.shares },
    addresses: { ...d.addresses, ...o.addresses },
    login: { ...d.login, ...o.login },
  };
}

const positive = z.number().positive();
const section = (keys: readonly string[]) => z.strictObject(Object.fromEntries(keys.map((k) => [k, positive.optional()])));

/** Reads `MEDCLASS_LIMITS`: a JSON object of limits (docs/protocol.md, "Server limits"); a clear error otherwise. */
export function parseLimitsJson(text: string): LimitsOverride {
  const d = DEFAULT_SERVER_LIMITS;
  const schema = z.strictObject({
    maxMessageBytes: positive.optional(),
    imagesPerMinute: positive.optional(),
    concurrentPerConnection: positive.optional(),
    idleMs: positive.optional(),
    handshakeMs: positive.optional(),
    decode: section(Object.keys(d.decode)).optional(),
    upload: section(Object.keys(d.upload)).optional(),
    shares: section(Object.keys(d.shares)).optional(),
    addresses: section(Object.keys(d.addresses)).optional(),
    login: section(Object.keys(d.login)).optional(),
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('MEDCLASS_LIMITS is not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`MEDCLASS_LIMITS: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return parsed.data as LimitsOverride;
}
