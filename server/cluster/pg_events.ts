import pg from 'pg';
import type { Logger } from '../log.ts';
import { EVENTS_CHANNEL } from '../store/postgres.store.ts';
import { InProcessEvents, type ClusterEvent, type ClusterEvents } from './events.ts';

const RETRY_MS = [250, 500, 1000, 2000, 5000];

const isEvent = (v: unknown): v is ClusterEvent => {
  const e = v as { kind?: unknown; userId?: unknown } | null;
  return !!e && (e.kind === 'services' || e.kind === 'resync' || (e.kind === 'access' && Number.isInteger(e.userId)));
};

/**
 * Events between the instances of one Postgres database, over LISTEN/NOTIFY on a connection of
 * their own. The store sends its own NOTIFY inside each write that changes access or services
 * (postgres.store.ts), so a change made anywhere (another instance, the `medclass` commands)
 * reaches every instance once committed. `publish` here tells this instance at once and the
 * others through the database.
 *
 * When the connection is lost (Postgres restarted, a network cut) it reconnects with backoff,
 * and then delivers `resync`: what was sent meanwhile was missed, so everything is re-checked.
 */
export class PgEvents implements ClusterEvents {
  private readonly local = new InProcessEvents();
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private attempt = 0;
  /** Resolves once listening (the first connection). */
  readonly ready: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly log?: Logger,
    private readonly pool?: pg.Pool,
  ) {
    this.ready = this.connect(false);
  }

  private async connect(resync: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, keepAlive: true });
    client.on('notification', (n) => {
      if (n.channel !== EVENTS_CHANNEL || !n.payload) return;
      try {
        const event: unknown = JSON.parse(n.payload);
        if (isEvent(event)) this.local.publish(event);
      } catch {
        // not ours
      }
    });
    const lost = (e?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      client.removeAllListeners('end');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.log?.warn({ error: e?.message }, 'lost the database event connection; reconnecting');
      this.schedule();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (e) {
      void client.end().catch(() => undefined);
      if (this.closed) return;
      if (!resync && this.attempt === 0) this.log?.warn({ error: (e as Error).message }, 'cannot listen for database events yet; retrying');
      this.schedule();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    if (resync) {
      this.log?.info('database event connection back; re-checking sessions and services');
      this.local.publish({ kind: 'resync' });
    }
  }

  private schedule(): void {
    if (this.retry || this.closed) return;
    const ms = RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)]!;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect(true);
    }, ms);
    this.retry.unref();
  }

  /** Whether the listening connection is up (for /readyz). */
  get listening(): boolean {
    return this.client !== null;
  }

  publish(event: ClusterEvent): void {
    this.local.publish(event);
    // the others; the store's own NOTIFY usually told them already (a duplicate costs one re-check)
    const send = this.pool ?? this.client;
    send?.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify(event)]).catch(() => undefined);
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    return this.local.subscribe(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
    await this.local.close();
  }
}
