import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.store.ts';
import { AccountsService, TOKEN_LIFETIME_MS } from './accounts.service.ts';
import { SessionRegistry, type LiveSession } from './session_registry.ts';

let dir: string;
let store: SqliteStore;
let clock = 1_000_000;
let accounts: AccountsService;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'medclass-accounts-'));
  store = new SqliteStore(join(dir, 'medclass.db'));
  accounts = new AccountsService(store, () => clock);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AccountsService', () => {
  it('creates the first admin once, with a one-time password, and never stores it in clear', async () => {
    const first = await accounts.ensureFirstAdmin();
    expect(first?.password).toMatch(/^[\w-]{20}$/);
    expect(await accounts.ensureFirstAdmin()).toBeNull();
    expect(store.findUser('admin')!.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(store.findUser('admin')!.passwordHash).not.toContain(first!.password!);
    const session = await accounts.login('admin', first!.password!);
    expect(accounts.authenticate(session.token).role).toBe('admin');
  });

  it('refuses wrong passwords and unknown users alike, then throttles', async () => {
    await accounts.createUser('nurse', 'correct horse battery', 'clinician');
    await expect(accounts.login('nurse', 'wrong password!')).rejects.toMatchObject({ code: 'badCredentials' });
    await expect(accounts.login('nobody', 'correct horse battery')).rejects.toMatchObject({ code: 'badCredentials', message: 'wrong user name or password' });
    for (let i = 0; i < 4; i++) await accounts.login('nurse', 'nope nope nope').catch(() => {});
    await expect(accounts.login('nurse', 'correct horse battery')).rejects.toMatchObject({ code: 'tooManyAttempts' });
    clock += 61_000;
    await expect(accounts.login('nurse', 'correct horse battery')).resolves.toMatchObject({ user: { role: 'clinician' } });
  }, 20_000);

  it('expires and revokes tokens', async () => {
    await accounts.createUser('doc', 'a long enough password', 'clinician');
    const s = await accounts.login('doc', 'a long enough password');
    expect(accounts.authenticate(s.token).username).toBe('doc');
    clock += TOKEN_LIFETIME_MS;
    expect(() => accounts.authenticate(s.token)).toThrow(/expired/);
    const t = await accounts.login('doc', 'a long enough password');
    accounts.logout(t.token);
    expect(() => accounts.authenticate(t.token)).toThrow(/not logged in/);
    expect(() => accounts.authenticate('forged')).toThrow(/not logged in/);
  });

  it('validates user names and password length', async () => {
    await expect(accounts.createUser('Bad Name', 'a long enough password', 'clinician')).rejects.toThrow(/user names/);
    await expect(accounts.createUser('ok', 'short', 'clinician')).rejects.toThrow(/12 characters/);
  });

  it('changes passwords, roles and the disabled flag, each ending the grant with its own cause', async () => {
    await accounts.ensureFirstAdmin('an admin password');
    await accounts.createUser('doc', 'a long enough password', 'clinician');
    const grant = async () => (await accounts.login('doc', 'a long enough password')).grant;

    let g = await grant();
    expect(accounts.endCause(g)).toBeNull();
    clock += TOKEN_LIFETIME_MS;
    expect(accounts.endCause(g)).toBe('loginExpired');

    g = await grant();
    accounts.setRole('doc', 'admin');
    expect(accounts.endCause(g)).toBe('roleChanged');
    accounts.setRole('doc', 'clinician');

    g = await grant();
    await accounts.changePassword('doc', 'another long password');
    expect(accounts.endCause(g)).toBe('passwordChanged');
    await expect(accounts.login('doc', 'a long enough password')).rejects.toMatchObject({ code: 'badCredentials' });
    await expect(accounts.changeOwnPassword('doc', 'wrong current one', 'yet another password')).rejects.toMatchObject({ code: 'badCredentials' });
    await accounts.changeOwnPassword('doc', 'another long password', 'a long enough password');

    g = await grant();
    accounts.setDisabled('doc', true);
    expect(accounts.endCause(g)).toBe('userDisabled');
    await expect(accounts.login('doc', 'a long enough password')).rejects.toMatchObject({ code: 'disabled' });
    accounts.setDisabled('doc', false);

    const s = await accounts.login('doc', 'a long enough password');
    accounts.logout(s.token);
    expect(accounts.endCause(s.grant)).toBe('loggedOut');
    expect(accounts.listUsers().map((u) => [u.username, u.role, u.disabled])).toEqual([['admin', 'admin', false], ['doc', 'clinician', false]]);
    expect(() => accounts.setDisabled('admin', true)).toThrow(/last admin/);
    expect(() => accounts.setRole('admin', 'clinician')).toThrow(/last admin/);
  }, 30_000);

  it('the registry ends a live session at once on an event, and by its re-check without one', async () => {
    await accounts.createUser('doc', 'a long enough password', 'clinician');
    const registry = new SessionRegistry(accounts, accounts.events, 60_000);
    const ended: string[] = [];
    const live = (grant: LiveSession['grant']): LiveSession => ({ grant, end: (cause) => ended.push(cause) });
    const a = live((await accounts.login('doc', 'a long enough password')).grant);
    const s = await accounts.login('doc', 'a long enough password');
    const b = live(s.grant);
    registry.add(a);
    registry.add(b);
    accounts.logout(s.token);
    expect(ended).toEqual(['loggedOut']);
    expect(registry.size).toBe(1);
    // a change made elsewhere (another process) is found by the re-check
    store.updateUser(a.grant.userId, { disabled: true });
    expect(ended).toEqual(['loggedOut']);
    registry.checkAll();
    expect(ended).toEqual(['loggedOut', 'userDisabled']);
    expect(registry.size).toBe(0);
    registry.close();
  }, 30_000);
});
