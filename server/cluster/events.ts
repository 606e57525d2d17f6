/**
 * Events that every server instance must hear. Alone on SQLite the in-process bus below is all
 * there is; with several instances on Postgres, PgEvents (pg_events.ts) carries them over
 * LISTEN/NOTIFY. The periodic re-checks (session registry, hub) stay the backstop either way:
 * an event lost still has its effect within the re-check interval.
 */
export type ClusterEvent =
  /** Something about this user's access changed: re-check their live sessions now. */
  | { kind: 'access'; userId: number }
  /** A service's current version changed (a publish, a rollback): announce it. */
  | { kind: 'services' }
  /** Events may have been missed (the connection to the database was lost): re-check everything. */
  | { kind: 'resync' };

/** The access change the accounts service announces. */
export type AccessEvent = Extract<ClusterEvent, { kind: 'access' }>;

export interface ClusterEvents {
  /** Tells every instance, this one included. */
  publish(event: ClusterEvent): void;
  /** Returns the unsubscribe. */
  subscribe(listener: (event: ClusterEvent) => void): () => void;
  close(): Promise<void>;
}

/** One process: listeners are called synchronously, in order. */
export class InProcessEvents implements ClusterEvents {
  private readonly listeners = new Set<(event: ClusterEvent) => void>();

  publish(event: ClusterEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
