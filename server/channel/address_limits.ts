import { addressKey } from '../accounts/login_guard.ts';

export interface AddressLimitsConfig {
  /** Open WebSockets from one address (IPv4, or IPv6 /64) at once. */
  connectionsPerAddress: number;
  /** Open WebSockets in all. */
  maxConnections: number;
  /** WebSocket handshakes (upgrades) one address may start in any 60 s. */
  handshakesPerAddressPerMinute: number;
  /** Addresses remembered for the handshake count before the least recently seen go. */
  maxAddresses: number;
}

/**
 * Connection admission by client address, checked before the WebSocket upgrade (so a refused
 * client costs an HTTP 429 and no ECDH). Open connections are counted exactly; handshakes in a
 * sliding minute, in a map that is pruned and capped.
 */
export class AddressLimits {
  private readonly open = new Map<string, number>();
  private total = 0;
  private readonly starts = new Map<string, number[]>();

  constructor(
    private readonly config: AddressLimitsConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Admits a connection (the caller must `release` it once closed), or says why not. */
  admit(address: string | undefined): { ok: true; key: string } | { ok: false; reason: string } {
    const key = addressKey(address);
    const now = this.now();
    const c = this.config;
    if (this.total >= c.maxConnections) return { ok: false, reason: 'the server has too many connections; try again shortly' };
    if ((this.open.get(key) ?? 0) >= c.connectionsPerAddress) return { ok: false, reason: `at most ${c.connectionsPerAddress} connections from one address` };
    const list = (this.starts.get(key) ?? []).filter((t) => now - t < 60_000);
    if (list.length >= c.handshakesPerAddressPerMinute) return { ok: false, reason: `at most ${c.handshakesPerAddressPerMinute} new connections a minute from one address` };
    list.push(now);
    this.starts.delete(key);
    this.starts.set(key, list);
    if (this.starts.size > c.maxAddresses) this.prune(now);
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    this.total++;
    return { ok: true, key };
  }

  release(key: string): void {
    const n = (this.open.get(key) ?? 0) - 1;
    if (n > 0) this.open.set(key, n);
    else this.open.delete(key);
    this.total = Math.max(0, this.total - 1);
  }

  private prune(now: number): void {
    for (const [key, list] of this.starts) if (!list.length || now - list[list.length - 1]! >= 60_000) this.starts.delete(key);
    for (const key of this.starts.keys()) {
      if (this.starts.size <= this.config.maxAddresses) break;
      this.starts.delete(key);
    }
  }

  get connections(): number {
    return this.total;
  }
}
