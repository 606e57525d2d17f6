import { createHash, randomBytes } from 'node:crypto';
import type { SessionEndCause } from '../../shared/protocol/session_end.ts';
import { InProcessEvents, type ClusterEvents } from '../cluster/events.ts';
import { StoreError, type Role, type Store, type User } from '../store/store.ts';
import { LoginGuard, LoginRefused } from './login_guard.ts';
import { generatePassword, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: 'badCredentials' | 'badToken' | 'tooManyAttempts' | 'invalidInput' | 'disabled' | 'notFound' | 'lastAdmin',
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  token: string;
  expiresAt: number;
  user: { username: string; role: Role };
  /** What a live session was granted on; the session registry re-checks it against the store. */
  grant: SessionGrant;
  /** Presented at the next login from this client, it keeps this client's own allowance (login_guard.ts); set by `login`. */
  deviceToken?: string;
  /** Logged in with a one-time password: only changing it is allowed. */
  mustChangePassword?: boolean;
}

/** Where a login comes from: the client's address (behind a trusted proxy, the forwarded one) and its device token. */
export interface LoginOrigin {
  address?: string;
  deviceToken?: string;
}

/**
 * The facts a live session's authorisation rests on. When any of them no longer holds in the
 * store, the session ends (`endCause`).
 */
export interface SessionGrant {
  userId: number;
  tokenHash: string;
  expiresAt: number;
  role: Role;
  /** The password hash at login: a change of password (anywhere) ends the session. */
  passwordHash: string;
}

/** A user as admins see them: never the password hash. */
export interface UserSummary {
  username: string;
  role: Role;
  disabled: boolean;
  mustChangePassword: boolean;
  createdAt: string;
}

/** Short-lived: a stolen token is worth little for long. */
export const TOKEN_LIFETIME_MS = 30 * 60 * 1000;
const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

// Only a hash of each token is stored: a copy of the database logs nobody in.
const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface AccountsOptions {
  /** Where changes of access are announced (default: this process only). */
  events?: ClusterEvents;
  tokenLifetimeMs?: number;
  /** Login attempts' limits and device tokens (default: default limits, a key for this process only). */
  guard?: LoginGuard;
}

export class AccountsService {
  // A fixed hash to verify against when the user does not exist, so timing tells nothing.
  private readonly decoy = hashPassword(generatePassword());
  readonly events: ClusterEvents;
  readonly tokenLifetimeMs: number;
  readonly guard: LoginGuard;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    options: AccountsOptions = {},
  ) {
    this.events = options.events ?? new InProcessEvents();
    this.tokenLifetimeMs = options.tokenLifetimeMs ?? TOKEN_LIFETIME_MS;
    this.guard = options.guard ?? new LoginGuard(undefined, {}, now);
  }

  private static checkPassword(password: string): void {
    if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) throw new AuthError('invalidInput', `passwords need at least ${MIN_PASSWORD_LENGTH} characters`);
  }

  /** The name to write in the audit trail for a login attempt: never a name that is no user's (it may be a password typed in the wrong field). */
  async auditName(username: string): Promise<string> {
    return (await this.store.findUser(username)) ? username : 'unknown';
  }

  async createUser(username: string, password: string, role: Role): Promise<User> {
    if (!USERNAME.test(username)) throw new AuthError('invalidInput', 'user names are 2-64 of a-z, 0-9, ".", "_" and "-"');
    AccountsService.checkPassword(password);
    return this.store.createUser({ username, role, passwordHash: await hashPassword(password) });
  }

  /**
   * Creates the first admin when there is no admin yet. Returns the one-time password
   * when it was generated (to be printed once), null when it came from the caller or no
   * admin was needed.
   */
  async ensureFirstAdmin(password?: string): Promise<{ username: string; password: string | null } | null> {
    if ((await this.store.countUsers('admin')) > 0) return null;
    const chosen = password ?? generatePassword();
    try {
      await this.createUser('admin', chosen, 'admin');
    } catch (e) {
      // another instance on the same database made it first
      if (e instanceof StoreError && e.code === 'conflict') return null;
      throw e;
    }
    return { username: 'admin', password: password ? null : chosen };
  }

  private session(token: string, user: User, expiresAt: number): Session {
    return {
      token,
      expiresAt,
      user: { username: user.username, role: user.role },
      ...(user.mustChangePassword ? { mustChangePassword: true } : {}),
      grant: { userId: user.id, tokenHash: tokenHash(token), expiresAt, role: user.role, passwordHash: user.passwordHash },
    };
  }

  /** Checks the password and issues a new token (inside the channel only: docs/protocol.md section 5). */
  async login(username: string, password: string, origin: LoginOrigin = {}): Promise<Session> {
    let attempt;
    try {
      // counted now, before any hashing: concurrent guesses cannot pass the limits
      attempt = await this.guard.admit(username, origin.address ?? 'unknown', origin.deviceToken);
    } catch (e) {
      if (e instanceof LoginRefused) throw new AuthError('tooManyAttempts', e.message);
      throw e;
    }
    let ok: boolean;
    let user: User | undefined;
    try {
      await attempt.hashSlot();
      user = await this.store.findUser(username);
      ok = await verifyPassword(password, user?.passwordHash ?? (await this.decoy));
    } finally {
      attempt.release();
    }
    if (!user || !ok) {
      attempt.failed();
      throw new AuthError('badCredentials', 'wrong user name or password');
    }
    attempt.succeeded();
    // said only to whoever knows the password
    if (user.disabled) throw new AuthError('disabled', 'this account is disabled; ask an administrator');
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + this.tokenLifetimeMs;
    await this.store.deleteExpiredTokens(this.now());
    await this.store.saveToken(tokenHash(token), { userId: user.id, expiresAt });
    return { ...this.session(token, user, expiresAt), deviceToken: this.guard.issueDeviceToken(user.username) };
  }

  /** A token from an earlier login, presented again (a reconnect); refused when unknown, expired or its user disabled. */
  async resume(token: string): Promise<Session> {
    const record = typeof token === 'string' ? await this.store.findToken(tokenHash(token)) : undefined;
    if (!record || record.expiresAt <= this.now()) throw new AuthError('badToken', 'not logged in, or the login has expired');
    const user = await this.store.userById(record.userId);
    if (!user || user.disabled) throw new AuthError('badToken', 'not logged in, or the login has expired');
    return this.session(token, user, record.expiresAt);
  }

  /** The user a token belongs to. */
  async authenticate(token: string): Promise<User> {
    return (await this.store.userById((await this.resume(token)).grant.userId))!;
  }

  /** Ends the token everywhere: every live session holding it closes (4040). */
  logout(token: string): Promise<void> {
    return this.endLogin(tokenHash(token));
  }

  /** `logout` for a live session, which keeps its grant and not the token itself. */
  async endLogin(tokenHashOrGrant: string | SessionGrant): Promise<void> {
    const hash = typeof tokenHashOrGrant === 'string' ? tokenHashOrGrant : tokenHashOrGrant.tokenHash;
    const record = await this.store.findToken(hash);
    await this.store.deleteToken(hash);
    if (record) this.events.publish({ kind: 'access', userId: record.userId });
  }

  /**
   * Why a live session granted on `grant` must end now, or null while it may go on. The order
   * matters: a password change also deletes the user's tokens, and must be named as such.
   */
  async endCause(grant: SessionGrant): Promise<SessionEndCause | null> {
    const user = await this.store.userById(grant.userId);
    if (!user) return 'userRemoved';
    if (user.disabled) return 'userDisabled';
    if (user.passwordHash !== grant.passwordHash) return 'passwordChanged';
    if (user.role !== grant.role) return 'roleChanged';
    const record = await this.store.findToken(grant.tokenHash);
    if (!record) return 'loggedOut';
    if (record.expiresAt <= this.now()) return 'loginExpired';
    return null;
  }

  private async require(username: string): Promise<User> {
    const user = await this.store.findUser(username);
    if (!user) throw new AuthError('notFound', `no user named ${username}`);
    return user;
  }

  /** Every login of the user ends; the change is announced so live sessions close at once. */
  private async changed(user: User): Promise<void> {
    await this.store.deleteUserTokens(user.id);
    this.events.publish({ kind: 'access', userId: user.id });
  }

  /** Sets a new password (an admin's reset, or the CLI); every session of the user ends (4042). */
  async changePassword(username: string, newPassword: string, oneTime = false): Promise<void> {
    AccountsService.checkPassword(newPassword);
    const user = await this.require(username);
    await this.store.updateUser(user.id, { passwordHash: await this.guard.withHashSlot(() => hashPassword(newPassword)), mustChangePassword: oneTime });
    await this.changed(user);
  }

  /** A user changing their own password: the current one is checked first (badCredentials). */
  async changeOwnPassword(username: string, currentPassword: string, newPassword: string): Promise<void> {
    AccountsService.checkPassword(newPassword);
    const user = await this.require(username);
    if (!(await this.guard.withHashSlot(() => verifyPassword(currentPassword, user.passwordHash)))) throw new AuthError('badCredentials', 'the current password is wrong');
    await this.changePassword(username, newPassword);
  }

  /** The last enabled admin cannot be demoted or disabled: nobody could manage users afterwards. */
  private async keepAnAdmin(user: User): Promise<void> {
    const admins = (await this.store.listUsers()).filter((u) => u.role === 'admin' && !u.disabled);
    if (admins.length === 1 && admins[0]!.id === user.id) throw new AuthError('lastAdmin', `${user.username} is the last admin`);
  }

  /** Every session of the user ends (4043); they log in again with the new role. */
  async setRole(username: string, role: Role): Promise<void> {
    const user = await this.require(username);
    if (user.role === role) return;
    if (role !== 'admin') await this.keepAnAdmin(user);
    await this.store.updateUser(user.id, { role });
    await this.changed(user);
  }

  /** Disabling ends every session of the user (4044) and refuses their logins; enabling lets them log in again. */
  async setDisabled(username: string, disabled: boolean): Promise<void> {
    const user = await this.require(username);
    if (user.disabled === disabled) return;
    if (disabled) await this.keepAnAdmin(user);
    await this.store.updateUser(user.id, { disabled });
    await this.changed(user);
  }

  async listUsers(): Promise<UserSummary[]> {
    return (await this.store.listUsers()).map(({ username, role, disabled, mustChangePassword, createdAt }) => ({ username, role, disabled, mustChangePassword, createdAt }));
  }

  /** An admin adds a user with a one-time password (returned, to be shown once), to be changed at the first login. */
  async addUser(username: string, role: Role): Promise<string> {
    const password = generatePassword();
    const user = await this.createUser(username, password, role);
    await this.store.updateUser(user.id, { mustChangePassword: true });
    return password;
  }

  /** An admin resets a password: a one-time password (returned), every session of the user ends. */
  async resetPassword(username: string): Promise<string> {
    const password = generatePassword();
    await this.changePassword(username, password, true);
    return password;
  }

  /** The user's vault key (store.ts): only ever sent to that user, inside the channel. */
  async vaultKey(username: string): Promise<Uint8Array> {
    return this.store.vaultKey((await this.require(username)).id);
  }
}
