/**
 * Why the server ended an authenticated session (docs/protocol.md section 5): the WebSocket
 * close code and reason it sends. Each cause has its own code so that a client can tell the
 * user what happened; the reason text is fixed (no user names, no tokens).
 */
export const SESSION_END = {
  /** The token was logged out (from this connection or any other holding it). */
  loggedOut: { code: 4040, reason: 'logged out' },
  /** The token's lifetime is over. */
  loginExpired: { code: 4041, reason: 'login expired' },
  /** The user's password changed: every login of theirs ends. */
  passwordChanged: { code: 4042, reason: 'password changed' },
  /** The user's role changed: every login of theirs ends. */
  roleChanged: { code: 4043, reason: 'role changed' },
  /** The user was disabled. */
  userDisabled: { code: 4044, reason: 'account disabled' },
  /** The user no longer exists. */
  userRemoved: { code: 4045, reason: 'account removed' },
} as const;

export type SessionEndCause = keyof typeof SESSION_END;

const BY_CODE = new Map<number, SessionEndCause>(Object.entries(SESSION_END).map(([k, v]) => [v.code, k as SessionEndCause]));

/** The cause of a close code in 4040-4049, or undefined for any other code. */
export const sessionEndCause = (code: number): SessionEndCause | undefined => BY_CODE.get(code);

/**
 * Not an end of the login: this server instance is shutting down (SIGTERM, a redeploy, a
 * scale-in). Requests in flight were answered first. The client reconnects at once (behind
 * one address, another instance takes it) and resumes with the same token.
 */
export const SERVER_SHUTTING_DOWN = { code: 4046, reason: 'server shutting down, reconnect' } as const;
/** The error code of that close on the client, and of requests refused while the server drains. */
export const SHUTTING_DOWN_CODE = 'serverShuttingDown';
