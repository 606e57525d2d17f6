/**
 * Who is logged in. The token lives in memory and in sessionStorage (this tab only, gone when
 * it closes; never localStorage), with its expiry: a reload keeps the login, a new tab asks again.
 */
import { loadServerConfig, UnreachableError } from './config.ts';

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

export class LoginError extends Error {
  override name = 'LoginError';
}

export async function login(username: string, password: string): Promise<Session> {
  const { server } = await loadServerConfig();
  let response: Response;
  try {
    response = await fetch(`${server}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
      cache: 'no-store',
    });
  } catch {
    throw new UnreachableError('the server cannot be reached');
  }
  const body = (await response.json().catch(() => ({}))) as Partial<Session> & { error?: string };
  if (!response.ok || typeof body.token !== 'string' || typeof body.expiresAt !== 'number') {
    throw new LoginError(body.error ?? `the server refused (HTTP ${response.status})`);
  }
  const session: Session = { token: body.token, expiresAt: body.expiresAt, user: body.user ?? username, role: body.role === 'admin' ? 'admin' : 'clinician' };
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

/** Ends the session here and, best effort, on the server. */
export async function logout(): Promise<void> {
  const token = auth.session?.token;
  forget(null);
  if (!token) return;
  try {
    const { server } = await loadServerConfig();
    await fetch(`${server}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch {
    // offline: the token expires by itself
  }
}

/** The server no longer takes the token (or its time is up): back to the login page. */
export function expire(notice = 'Your session has expired. Log in again to continue; queued images are kept.'): void {
  if (auth.session) forget(notice);
}
