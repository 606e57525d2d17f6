import { createHash, randomBytes } from 'node:crypto';
import type { Role, Store, User } from '../store/store.ts';
import { generatePassword, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';

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
}

/** Short-lived: a stolen token is worth little for long. */
export const TOKEN_LIFETIME_MS = 30 * 60 * 1000;
const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;
const ATTEMPTS = { max: 5, windowMs: 60_000 };

// Only a hash of each token is stored: a copy of the database logs nobody in.
const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

export class AccountsService {
  private readonly failures = new Map<string, number[]>();
  // A fixed hash to verify against when the user does not exist, so timing tells nothing.
  private readonly decoy = hashPassword(generatePassword());

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async createUser(username: string, password: string, role: Role): Promise<User> {
    if (!USERNAME.test(username)) throw new AuthError('invalidInput', 'user names are 2-64 of a-z, 0-9, ".", "_" and "-"');
    if (password.length < MIN_PASSWORD_LENGTH) throw new AuthError('invalidInput', `passwords need at least ${MIN_PASSWORD_LENGTH} characters`);
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

  private throttle(username: string): void {
    const now = this.now();
    const recent = (this.failures.get(username) ?? []).filter((t) => now - t < ATTEMPTS.windowMs);
    this.failures.set(username, recent);
    if (recent.length >= ATTEMPTS.max) throw new AuthError('tooManyAttempts', 'too many failed logins; wait a minute');
  }

  async login(username: string, password: string): Promise<Session> {
    this.throttle(username);
    const user = this.store.findUser(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await this.decoy));
    if (!user || !ok) {
      this.failures.get(username)!.push(this.now());
      throw new AuthError('badCredentials', 'wrong user name or password');
    }
    this.failures.delete(username);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + TOKEN_LIFETIME_MS;
    this.store.deleteExpiredTokens(this.now());
    this.store.saveToken(tokenHash(token), { userId: user.id, expiresAt });
    return { token, expiresAt, user: { username: user.username, role: user.role } };
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
