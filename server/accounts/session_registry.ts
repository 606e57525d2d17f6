import type { SessionEndCause } from '../../shared/protocol/session_end.ts';
import type { ClusterEvents } from '../cluster/events.ts';
import type { AccountsService, SessionGrant } from './accounts.service.ts';

/** An authenticated connection, as the registry sees it. */
export interface LiveSession {
  readonly grant: SessionGrant;
  /** Closes the connection with the cause's code (shared/protocol/session_end.ts). */
  end(cause: SessionEndCause): void;
}

/** How often every live session is re-checked against the store, whatever the events said. */
export const DEFAULT_RECHECK_MS = 2_000;

/**
 * The live authenticated sessions of this process, by user. An access event (logout, password
 * or role change, disabling) re-checks that user's sessions at once; a timer re-checks all of
 * them every `recheckMs` as the backstop for events this process never heard (another
 * instance, the `medclass user` commands) and for expiry. Every check asks the store, so the
 * store is the one truth and the close code names what changed there.
 */
export class SessionRegistry {
  private readonly byUser = new Map<number, Set<LiveSession>>();
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly accounts: AccountsService,
    events: ClusterEvents,
    recheckMs = DEFAULT_RECHECK_MS,
  ) {
    this.unsubscribe = events.subscribe(({ userId }) => void this.checkUser(userId));
    this.timer = setInterval(() => void this.checkAll(), recheckMs);
    this.timer.unref();
  }

  add(session: LiveSession): void {
    const set = this.byUser.get(session.grant.userId) ?? new Set();
    set.add(session);
    this.byUser.set(session.grant.userId, set);
  }

  remove(session: LiveSession): void {
    const set = this.byUser.get(session.grant.userId);
    set?.delete(session);
    if (set?.size === 0) this.byUser.delete(session.grant.userId);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  private async check(session: LiveSession): Promise<void> {
    let cause: SessionEndCause | null;
    try {
      cause = await this.accounts.endCause(session.grant);
    } catch {
      return; // the store unreachable: the next re-check tries again
    }
    // removed meanwhile (the connection closed, or another check ended it)
    if (!cause || !this.byUser.get(session.grant.userId)?.has(session)) return;
    this.remove(session);
    session.end(cause);
  }

  async checkUser(userId: number): Promise<void> {
    await Promise.all([...(this.byUser.get(userId) ?? [])].map((session) => this.check(session)));
  }

  async checkAll(): Promise<void> {
    await Promise.all([...this.byUser.keys()].map((userId) => this.checkUser(userId)));
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe();
    this.byUser.clear();
  }
}
