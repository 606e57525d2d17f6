/**
 * Who is logged in. The token lives in memory and in sessionStorage (this tab only, gone when
 * it closes; never localStorage, never a cookie), with its expiry: a reload keeps the login, a
 * new tab asks again. It is only ever sent inside the secure channel (`resume`).
 */
import type { SessionEndCause } from '../../shared/protocol/session_end.ts';
import { channel } from './channel.svelte.ts';

export interface Session {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  user: string;
  role: 'admin' | 'clinician';
}

const KEY = 'medclass.session';

function restore(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    if (s && typeof s.token === 'string' && typeof s.expiresAt === 'number' && s.expiresAt > Date.now()) return s;
  } catch {
    // unreadable: as if absent
  }
  sessionStorage.removeItem(KEY);
  return null;
}

export const auth = $state<{ session: Session | null; notice: string | null }>({ session: restore(), notice: null });

let timer: ReturnType<typeof setTimeout> | undefined;

function schedule(): void {
  clearTimeout(timer);
  const s = auth.session;
  // setTimeout holds 32 bits of milliseconds
  if (s) timer = setTimeout(() => expire(), Math.min(Math.max(0, s.expiresAt - Date.now()), 2 ** 31 - 1));
}
schedule();

export class PasswordChangeRequired extends Error {
  override name = 'PasswordChangeRequired';
  constructor(readonly user: string) {
    super('choose a new password to replace the one-time password');
  }
}

/** Logs in inside the secure channel (the password never leaves it); the channel stays open for this login. */
export async function login(username: string, password: string): Promise<Session> {
  const result = await channel.login(username, password);
  // a one-time password from an administrator: nothing else until it is changed (the login page asks)
  if (result.mustChangePassword) throw new PasswordChangeRequired(result.user);
  const session: Session = { token: result.token, expiresAt: result.expiresAt, user: result.user, role: result.role };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  auth.session = session;
  auth.notice = null;
  schedule();
  return session;
}

function forget(notice: string | null): void {
  sessionStorage.removeItem(KEY);
  auth.session = null;
  auth.notice = notice;
  clearTimeout(timer);
}

/** Ends the login on the server (every window holding it) and here. */
export async function logout(): Promise<void> {
  forget(null);
  await channel.logout();
}

/** What the user is told when the server ended their login, by cause. */
export const SESSION_GONE_NOTICES: Record<SessionEndCause | 'badToken', string> = {
  badToken: 'Your session has expired. Log in again to continue; queued images are kept.',
  loginExpired: 'Your session has expired. Log in again to continue; queued images are kept.',
  loggedOut: 'You were logged out (here or in another window). Log in again to continue.',
  passwordChanged: 'Your password was changed. Log in again with the new one.',
  roleChanged: 'An administrator changed your role. Log in again to continue.',
  userDisabled: 'Your account has been disabled. Ask an administrator.',
  userRemoved: 'Your account no longer exists. Ask an administrator.',
};

/** The server no longer takes the login (or its time is up): back to the login page. */
export function expire(notice = SESSION_GONE_NOTICES.loginExpired): void {
  if (auth.session) forget(notice);
}
