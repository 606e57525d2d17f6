import { createHash, randomBytes } from 'node:crypto';
import type { Role, Store, User } from '../store/store.ts';
import { LoginGuard, LoginRefused } from './login_guard.ts';
import { generatePassword, hashPassword, verifyPassword } from './passwords.ts';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: 'badCredentials' | 'badToken' | 'tooManyAttempts' | 'invalidInput',
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  token: string;
  expiresAt: number;
  user: { username: string; role: Role };
  /** Presented at the next login from this client, it keeps this client's own allowance (login_guard.ts). */
  deviceToken: string;
}

/** Where a login comes from: the client's address (behind a trusted proxy, the forwarded one) and its device token. */
export interface LoginOrigin {
  address?: string;
  deviceToken?: string;
}

/** Short-lived: a stolen token is worth little for long. */
export const TOKEN_LIFETIME_MS = 30 * 60 * 1000;
const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

// Only a hash of each token is stored: a copy of the database logs nobody in.
const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

export class AccountsService {
  // A fixed hash to verify against when the user does not exist, so timing tells nothing.
  private readonly decoy = hashPassword(generatePassword());

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    readonly guard: LoginGuard = new LoginGuard(undefined, {}, now),
  ) {}

  /** The name to write in the audit trail for a login attempt: never a name that is no user's (it may be a password typed in the wrong field). */
  auditName(username: string): string {
    return this.store.findUser(username) ? username : 'unknown';
  }

  async createUser(username: string, password: string, role: Role): Promise<User> {
    if (!USERNAME.test(username)) throw new AuthError('invalidInput', 'user names are 2-64 of a-z, 0-9, ".", "_" and "-"');
    if (password.length < 12) throw new AuthError('invalidInput', 'passwords need at least 12 characters');
    return this.store.createUser({ username, role, passwordHash: await hashPassword(password) });
  }

  /**
   * Creates the first admin when there is no admin yet. Returns the one-time password
   * when it was generated (to be printed once), null when it came from the caller or no
   * admin was needed.
   */
  async ensureFirstAdmin(password?: string): Promise<{ username: string; password: string | null } | null> {
    if (this.store.countUsers('admin') > 0) return null;
    const chosen = password ?? generatePassword();
    await this.createUser('admin', chosen, 'admin');
    return { username: 'admin', password: password ? null : chosen };
  }

  async login(username: string, password: string, origin: LoginOrigin = {}): Promise<Session> {
    let attempt;
    try {
      // counted now, before any hashing: concurrent guesses cannot pass the limits
      attempt = this.guard.begin(username, origin.address ?? 'unknown', origin.deviceToken);
    } catch (e) {
      if (e instanceof LoginRefused) throw new AuthError('tooManyAttempts', e.message);
      throw e;
    }
    let ok: boolean;
    let user: User | undefined;
    try {
      await attempt.hashSlot();
      user = this.store.findUser(username);
      ok = await verifyPassword(password, user?.passwordHash ?? (await this.decoy));
    } finally {
      attempt.release();
    }
    if (!user || !ok) {
      attempt.failed();
      throw new AuthError('badCredentials', 'wrong user name or password');
    }
    attempt.succeeded();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + TOKEN_LIFETIME_MS;
    this.store.deleteExpiredTokens(this.now());
    this.store.saveToken(tokenHash(token), { userId: user.id, expiresAt });
    return { token, expiresAt, user: { username: user.username, role: user.role }, deviceToken: this.guard.issueDeviceToken(user.username) };
  }

  /** The user a token belongs to; refused when unknown or expired. */
  authenticate(token: string): User {
    const record = typeof token === 'string' ? this.store.findToken(tokenHash(token)) : undefined;
    if (!record || record.expiresAt <= this.now()) throw new AuthError('badToken', 'not logged in, or the login has expired');
    const user = this.store.userById(record.userId);
    if (!user) throw new AuthError('badToken', 'not logged in, or the login has expired');
    return user;
  }

  logout(token: string): void {
    this.store.deleteToken(tokenHash(token));
  }
}
