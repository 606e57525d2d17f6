export interface ShareLimits {
  /** Classify requests of one user in flight at once, over all their connections. */
  inFlightPerUser: number;
  /** Image bytes of one user's requests in flight at once. */
  queuedBytesPerUser: number;
  /** Classify requests in flight on the whole server. */
  inFlightTotal: number;
  /** Image bytes in flight on the whole server. */
  queuedBytesTotal: number;
}

/**
 * Each user's share of the server: requests and bytes in flight are counted per user and in
 * all, not per connection, so a user with several connections gets no more than one with
 * one. (The classifier pool then takes the users' requests in turn: classifier_pool.ts.)
 */
export class UserShares {
  private readonly users = new Map<string, { requests: number; bytes: number }>();
  private requests = 0;
  private bytes = 0;

  constructor(readonly limits: ShareLimits) {}

  /** Reserves a request's share, or says why not; the caller releases it with the returned function. */
  take(user: string, bytes: number): { ok: true; release(): void } | { ok: false; reason: string } {
    const l = this.limits;
    const mine = this.users.get(user) ?? { requests: 0, bytes: 0 };
    if (mine.requests >= l.inFlightPerUser) return { ok: false, reason: `at most ${l.inFlightPerUser} requests of one user at once` };
    // one request alone may always go (up to the message limit), or it could never be sent
    if (mine.requests > 0 && mine.bytes + bytes > l.queuedBytesPerUser) return { ok: false, reason: `at most ${l.queuedBytesPerUser} bytes of one user's images at once` };
    if (this.requests >= l.inFlightTotal || (this.requests > 0 && this.bytes + bytes > l.queuedBytesTotal)) return { ok: false, reason: 'the server is busy; try again shortly' };
    mine.requests++;
    mine.bytes += bytes;
    this.users.set(user, mine);
    this.requests++;
    this.bytes += bytes;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        mine.requests--;
        mine.bytes -= bytes;
        if (mine.requests === 0) this.users.delete(user);
        this.requests--;
        this.bytes -= bytes;
      },
    };
  }

  /** In flight now, for a user or in all. */
  usage(user?: string): { requests: number; bytes: number } {
    if (user === undefined) return { requests: this.requests, bytes: this.bytes };
    const u = this.users.get(user);
    return { requests: u?.requests ?? 0, bytes: u?.bytes ?? 0 };
  }
}
