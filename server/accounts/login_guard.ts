import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.ts';

/**
 * Slows password guessing without letting strangers lock anyone out (OWASP's "device cookie"
 * scheme plus address ceilings), and keeps a login flood from starving everything else:
 *
 * - A client that logged in before presents its **device token** (issued at each successful
 *   login, bound to that user by an HMAC, sent only inside the channel). Its attempts bypass the
 *   address, user and global ceilings below and have their own small allowance, so failures
 *   made by others never keep a user's usual client out.
 * - Everyone else (untrusted attempts) counts against: the address (at most `perAddress`
 *   failed or pending attempts a minute: guesses), the (user, address) pair (progressive delays after `freeFailures`), the user from
 *   untrusted clients (`perUserUntrusted` failures per window), and the whole server
 *   (`global` a minute).
 * - Every attempt is counted when it starts, before any hashing, so concurrent guesses cannot
 *   pass a limit; the outcome only decides whether its strike stays.
 * - At most `maxConcurrentHashes` scrypt hashes run at once (libuv's pool, which the handshakes'
 *   WebCrypto also uses, keeps threads free); at most `maxQueuedHashes` wait: trusted first,
 *   then the addresses in turn, so a flood from one address waits behind itself.
 * - User names are keyed by an HMAC under a per-process key (never held raw); all maps are
 *   pruned as they age and capped at `maxEntries`.
 * - With a shared store (several instances on one Postgres), `admit` also counts the address,
 *   user and global ceilings in the store's fixed-window counters, so N instances do not allow N
 *   times as many guesses. The (user, address) delays and the hash queue stay per process.
 */
export interface LoginGuardLimits {
  /** Untrusted login attempts from one address (IPv4, or IPv6 /64) in any 60 s, not counting those that succeeded. */
  perAddressPerMinute: number;
  /** Untrusted login attempts from all addresses together in any 60 s. */
  globalPerMinute: number;
  /** Failures for one (user, address) before each further attempt waits, doubling from 1 s to 60 s. */
  freeFailures: number;
  /** Untrusted failures for one user name (all addresses) in `userWindowMs` before untrusted clients are refused for it. */
  perUserUntrusted: number;
  userWindowMs: number;
  /** Failures one device token may make in `userWindowMs` before it counts as untrusted. */
  perDevice: number;
  maxConcurrentHashes: number;
  maxQueuedHashes: number;
  /** Entries per map (addresses, pairs, users, devices) before the oldest go. */
  maxEntries: number;
}

export const DEFAULT_LOGIN_LIMITS: Readonly<LoginGuardLimits> = Object.freeze({
  perAddressPerMinute: 10,
  globalPerMinute: 300,
  freeFailures: 3,
  perUserUntrusted: 30,
  userWindowMs: 15 * 60_000,
  perDevice: 10,
  maxConcurrentHashes: 2,
  maxQueuedHashes: 32,
  maxEntries: 50_000,
});

const MINUTE = 60_000;
const MAX_DELAY_MS = 60_000;

export class LoginRefused extends Error {
  override name = 'LoginRefused';
  constructor(
    message: string,
    /** Seconds after which a retry may pass (0: unknown). */
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

/** A client address as the limits count it: IPv4 as is (without a port), IPv6 by its /64. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  let a = address.trim();
  // Azure's front end writes X-Forwarded-For as "ip:port"; a port must not make a new address
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(a);
  if (v4port) a = v4port[1]!;
  const v6port = /^\[([0-9a-fA-F:.]+)\](?::\d+)?$/.exec(a);
  if (v6port) a = v6port[1]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped) return mapped[1]!;
  if (!a.includes(':')) return a;
  return `${expandV6(a).slice(0, 4).join(':')}::/64`;
}

function expandV6(a: string): string[] {
  const [head = '', tail] = a.toLowerCase().split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0');
  return [...h, ...fill, ...t].map((p) => p.replace(/^0+(?=.)/, ''));
}

/** Timestamps of recent events per key, pruned as they age; the map keeps `max` keys, oldest dropped first. */
class Windows {
  private readonly map = new Map<string, number[]>();
  constructor(
    private readonly windowMs: number,
    private readonly max: number,
  ) {}

  recent(key: string, now: number): number[] {
    const list = this.map.get(key);
    if (!list) return [];
    while (list.length && now - list[0]! >= this.windowMs) list.shift();
    if (!list.length) this.map.delete(key);
    return list;
  }

  add(key: string, at: number): void {
    let list = this.map.get(key);
    if (list) this.map.delete(key); // re-inserted: the map's order is last use
    else list = [];
    list.push(at);
    this.map.set(key, list);
    if (this.map.size > this.max) this.prune(at);
  }

  /** Removes one event (a strike whose attempt succeeded). */
  remove(key: string, at: number): void {
    const list = this.map.get(key);
    const i = list?.lastIndexOf(at) ?? -1;
    if (i >= 0) list!.splice(i, 1);
    if (list && !list.length) this.map.delete(key);
  }

  clear(key: string): void {
    this.map.delete(key);
  }

  prune(now: number): void {
    for (const [key, list] of this.map) {
      if (!list.length || now - list[list.length - 1]! >= this.windowMs) this.map.delete(key);
    }
    // still full: the least recently used go (their limits start again, the global one holds)
    for (const key of this.map.keys()) {
      if (this.map.size <= this.max) break;
      this.map.delete(key);
    }
  }

  get size(): number {
    return this.map.size;
  }
}

export interface LoginAttempt {
  /** Whether the attempt came with a valid device token for this user. */
  readonly trusted: boolean;
  /** Waits for a hashing slot; call `release` after hashing, whatever happened. */
  hashSlot(): Promise<void>;
  release(): void;
  succeeded(): void;
  failed(): void;
  /** Takes back every strike of an attempt that was refused after all (`admit`'s shared ceilings). */
  undo(): void;
}

export class LoginGuard {
  readonly limits: LoginGuardLimits;
  private readonly nameKey = randomBytes(32);
  private readonly addresses: Windows;
  private readonly global: Windows;
  private readonly pairs: Windows;
  private readonly users: Windows;
  private readonly devices: Windows;
  private running = 0;
  /** Attempts waiting for a hash: trusted first, then untrusted ones by address in turn (a flood waits behind itself). */
  private readonly waiting: { trusted: (() => void)[]; untrusted: Map<string, (() => void)[]> } = { trusted: [], untrusted: new Map() };
  private untrustedWaiting = 0;
  /** Hashes granted per address since the queue was last empty: the next turn is the address with the fewest. */
  private granted = new Map<string, number>();
  private pruneAt = 0;

  constructor(
    /** Signs device tokens; keep it across restarts (server.ts stores it in the data folder). */
    private readonly deviceKey: Uint8Array = randomBytes(32),
    limits: Partial<LoginGuardLimits> = {},
    private readonly now: () => number = Date.now,
    /** Counters every instance sees (Postgres); without it the counts are this process's only. */
    private readonly shared?: Pick<Store, 'addToCounter'>,
  ) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
    const max = this.limits.maxEntries;
    this.addresses = new Windows(MINUTE, max);
    this.global = new Windows(MINUTE, 1);
    this.pairs = new Windows(this.limits.userWindowMs, max);
    this.users = new Windows(this.limits.userWindowMs, max);
    this.devices = new Windows(this.limits.userWindowMs, max);
  }

  /** A keyed hash of a user name: what the maps hold instead of the name. */
  private nameId(username: string): string {
    return createHmac('sha256', this.nameKey).update(username).digest('base64url').slice(0, 22);
  }

  /** A device token for this user: random, and bound to the name by an HMAC under the server's key. */
  issueDeviceToken(username: string): string {
    const nonce = randomBytes(16);
    return `${nonce.toString('base64url')}.${this.deviceMac(username, nonce).toString('base64url')}`;
  }

  private deviceMac(username: string, nonce: Uint8Array): Buffer {
    return createHmac('sha256', this.deviceKey).update(nonce).update('\0').update(username).digest();
  }

  /** The device's id when the token is valid for this user, else null. */
  private device(username: string, token: string | undefined): string | null {
    if (!token || token.length > 200) return null;
    const [n, m] = token.split('.');
    if (!n || !m) return null;
    const nonce = Buffer.from(n, 'base64url');
    const mac = Buffer.from(m, 'base64url');
    if (nonce.length !== 16 || mac.length !== 32) return null;
    return timingSafeEqual(mac, this.deviceMac(username, nonce)) ? n : null;
  }

  /**
   * Admits an attempt, counting it now, or throws LoginRefused (before any hashing). The
   * caller hashes inside `hashSlot()`/`release()` and then reports `succeeded` or `failed`.
   */
  begin(username: string, address: string, deviceToken?: string): LoginAttempt {
    const now = this.now();
    if (now >= this.pruneAt) this.prune(now);
    const user = this.nameId(username);
    const device = this.device(username, deviceToken);
    const l = this.limits;
    const strikes: [Windows, string][] = [];
    const trusted = device !== null && this.devices.recent(device, now).length < l.perDevice;
    if (trusted) {
      strikes.push([this.devices, device]);
    } else {
      const addr = addressKey(address);
      const pair = `${user}|${addr}`;
      const byAddress = this.addresses.recent(addr, now);
      if (byAddress.length >= l.perAddressPerMinute) throw this.refusal('too many login attempts from this address', byAddress[0]! + MINUTE - now);
      const all = this.global.recent('all', now);
      if (all.length >= l.globalPerMinute) throw this.refusal('the server is busy with logins', all[0]! + MINUTE - now);
      const byUser = this.users.recent(user, now);
      if (byUser.length >= l.perUserUntrusted) throw this.refusal('too many failed logins for this user from unknown devices', byUser[0]! + l.userWindowMs - now);
      const byPair = this.pairs.recent(pair, now);
      if (byPair.length >= l.freeFailures) {
        const wait = Math.min(MAX_DELAY_MS, 1000 * 2 ** (byPair.length - l.freeFailures)) - (now - byPair[byPair.length - 1]!);
        if (wait > 0) throw this.refusal('too many failed logins', wait);
      }
      if (this.untrustedWaiting >= l.maxQueuedHashes) throw this.refusal('the server is busy with logins', 1000);
      // the global count is attempts; the others count failures (a success takes its own strike back,
      // so that many clients behind one address, a hospital's, can log in all day)
      this.global.add('all', now);
      strikes.push([this.addresses, addr], [this.users, user], [this.pairs, pair]);
    }
    for (const [w, key] of strikes) w.add(key, now);
    let settled = false;
    const slot = this.slot(trusted ? null : addressKey(address));
    return {
      trusted,
      hashSlot: slot.acquire,
      release: slot.release,
      succeeded: () => {
        if (settled) return;
        settled = true;
        for (const [w, key] of strikes) w.remove(key, now);
        if (!trusted) this.pairs.clear(`${user}|${addressKey(address)}`);
      },
      failed: () => {
        settled = true;
      },
      undo: () => {
        if (settled) return;
        settled = true;
        for (const [w, key] of strikes) w.remove(key, now);
        if (!trusted) this.global.remove('all', now);
      },
    };
  }

  /**
   * `begin`, and then, with a shared store, the address, user and global ceilings counted across
   * instances (fixed windows: a minute, `userWindowMs`). A refused attempt leaves no strike anywhere.
   */
  async admit(username: string, address: string, deviceToken?: string): Promise<LoginAttempt> {
    const attempt = this.begin(username, address, deviceToken);
    if (!this.shared || attempt.trusted) return attempt;
    const shared = this.shared;
    const now = this.now();
    const l = this.limits;
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const userWindow = Math.floor(now / l.userWindowMs) * l.userWindowMs;
    // not the per-process HMAC: every instance must name the user alike (the users table holds the name anyway)
    const user = createHash('sha256').update('medclass login user\0').update(username).digest('base64url').slice(0, 22);
    const counts: [key: string, windowStart: number, limit: number, refusal: string, windowEnd: number][] = [
      ['login:all', minute, l.globalPerMinute, 'the server is busy with logins', minute + MINUTE],
      [`login:address:${addressKey(address)}`, minute, l.perAddressPerMinute, 'too many login attempts from this address', minute + MINUTE],
      [`login:user:${user}`, userWindow, l.perUserUntrusted, 'too many failed logins for this user from unknown devices', userWindow + l.userWindowMs],
    ];
    const taken: (typeof counts)[number][] = [];
    const giveBack = (list: (typeof counts)[number][]) => Promise.all(list.map(([key, start]) => shared.addToCounter(key, start, -1)));
    try {
      for (const c of counts) {
        const total = await shared.addToCounter(c[0], c[1], 1);
        taken.push(c);
        if (total > c[2]) {
          await giveBack(taken);
          throw this.refusal(c[3], c[4] - now);
        }
      }
    } catch (e) {
      attempt.release();
      attempt.undo();
      throw e;
    }
    return {
      ...attempt,
      succeeded: () => {
        attempt.succeeded();
        // the global count is attempts; the others count failures, as in `begin`
        void giveBack(taken.slice(1)).catch(() => undefined);
      },
    };
  }

  /** Runs a password check (not a login: a change of one's own password) within the hashing cap. */
  async withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
    const slot = this.slot(null);
    await slot.acquire();
    try {
      return await fn();
    } finally {
      slot.release();
    }
  }

  /** One place among the hashes allowed at once: wait for it, then give it back (or give up waiting). */
  private slot(address: string | null): { acquire(): Promise<void>; release(): void } {
    let state: 'none' | 'waiting' | 'held' | 'done' = 'none';
    let waiter: (() => void) | null = null;
    return {
      acquire: () =>
        new Promise<void>((resolve) => {
          if (state !== 'none') return resolve();
          const grant = () => {
            state = 'held';
            if (address !== null) {
              if (this.granted.size >= this.limits.maxEntries) this.granted.clear();
              this.granted.set(address, (this.granted.get(address) ?? 0) + 1);
            }
            resolve();
          };
          if (this.running < this.limits.maxConcurrentHashes) {
            this.running++;
            return grant();
          }
          state = 'waiting';
          waiter = grant;
          if (address === null) this.waiting.trusted.push(grant);
          else {
            const q = this.waiting.untrusted.get(address);
            if (q) q.push(grant);
            else this.waiting.untrusted.set(address, [grant]);
            this.untrustedWaiting++;
          }
        }),
      release: () => {
        if (state === 'held') this.releaseSlot();
        else if (state === 'waiting') {
          // given up while waiting: leave the queue
          const q = address === null ? this.waiting.trusted : this.waiting.untrusted.get(address);
          const i = q?.indexOf(waiter!) ?? -1;
          if (i >= 0) {
            q!.splice(i, 1);
            if (address !== null) {
              this.untrustedWaiting--;
              if (!q!.length) this.waiting.untrusted.delete(address);
            }
          }
        }
        state = 'done';
      },
    };
  }

  private refusal(message: string, waitMs: number): LoginRefused {
    const s = Math.max(1, Math.ceil(waitMs / 1000));
    return new LoginRefused(`${message}; try again in ${s} s`, s);
  }

  private releaseSlot(): void {
    const next = this.waiting.trusted.shift() ?? this.nextUntrusted();
    if (next) next(); // the slot passes on: `running` stays
    else this.running--;
  }

  /** The oldest waiting attempt of the address that has had the fewest hashes (the oldest such address first). */
  private nextUntrusted(): (() => void) | undefined {
    let best: [string, (() => void)[]] | null = null;
    for (const entry of this.waiting.untrusted) {
      if (!best || (this.granted.get(entry[0]) ?? 0) < (this.granted.get(best[0]) ?? 0)) best = entry;
    }
    if (!best) {
      this.granted.clear();
      return undefined;
    }
    const [address, q] = best;
    const grant = q.shift();
    this.waiting.untrusted.delete(address);
    if (q.length) this.waiting.untrusted.set(address, q);
    this.untrustedWaiting--;
    return grant;
  }

  private prune(now: number): void {
    this.pruneAt = now + MINUTE;
    for (const w of [this.addresses, this.pairs, this.users, this.devices]) w.prune(now);
  }

  /** How many keys the maps hold (for tests and health): bounded by `maxEntries` each. */
  get entries(): number {
    return this.addresses.size + this.pairs.size + this.users.size + this.devices.size;
  }

  /** Hashes running and waiting now. */
  get hashing(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.trusted.length + this.untrustedWaiting };
  }
}
