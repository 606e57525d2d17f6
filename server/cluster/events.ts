/**
 * Events that every server instance must hear. Today one process serves, and the in-process
 * bus below is all there is; with several instances (the scale-out issue) an implementation
 * over the shared database (Postgres LISTEN/NOTIFY) takes its place behind this interface. The
 * session registry's periodic re-check against the store is the backstop either way: an event
 * lost, or a change made by another process (the `medclass user` commands), still ends the
 * sessions it should within the re-check interval.
 */

/** Something about this user's access changed: re-check their live sessions now. */
export interface AccessEvent {
  userId: number;
}

export interface ClusterEvents {
  /** Tells every instance, this one included. */
  publish(event: AccessEvent): void;
  /** Returns the unsubscribe. */
  subscribe(listener: (event: AccessEvent) => void): () => void;
}

/** One process: listeners are called synchronously, in order. */
export class InProcessEvents implements ClusterEvents {
  private readonly listeners = new Set<(event: AccessEvent) => void>();

  publish(event: AccessEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  subscribe(listener: (event: AccessEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
