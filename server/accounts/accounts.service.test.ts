import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AccountsService', () => {
  it('creates the first admin once, with a one-time password, and never stores it in clear', async () => {
    const first = await accounts.ensureFirstAdmin();
    expect(first?.password).toMatch(/^[\w-]{20}$/);
    expect(await accounts.ensureFirstAdmin()).toBeNull();
    expect((await store.findUser('admin'))!.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect((await store.findUser('admin'))!.passwordHash).not.toContain(first!.password!);
    const session = await accounts.login('admin', first!.password!);
    expect((await accounts.authenticate(session.token)).role).toBe('admin');
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
    expect((await accounts.authenticate(s.token)).username).toBe('doc');
    clock += TOKEN_LIFETIME_MS;
    await expect(accounts.authenticate(s.token)).rejects.toThrow(/expired/);
    const t = await accounts.login('doc', 'a long enough password');
    await accounts.logout(t.token);
    await expect(accounts.authenticate(t.token)).rejects.toThrow(/not logged in/);
    await expect(accounts.authenticate('forged')).rejects.toThrow(/not logged in/);
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
    expect(await accounts.endCause(g)).toBeNull();
    clock += TOKEN_LIFETIME_MS;
    expect(await accounts.endCause(g)).toBe('loginExpired');

    g = await grant();
    await accounts.setRole('doc', 'admin');
    expect(await accounts.endCause(g)).toBe('roleChanged');
    await accounts.setRole('doc', 'clinician');

    g = await grant();
    await accounts.changePassword('doc', 'another long password');
    expect(await accounts.endCause(g)).toBe('passwordChanged');
    await expect(accounts.login('doc', 'a long enough password')).rejects.toMatchObject({ code: 'badCredentials' });
    await expect(accounts.changeOwnPassword('doc', 'wrong current one', 'yet another password')).rejects.toMatchObject({ code: 'badCredentials' });
    await accounts.changeOwnPassword('doc', 'another long password', 'a long enough password');

    g = await grant();
    await accounts.setDisabled('doc', true);
    expect(await accounts.endCause(g)).toBe('userDisabled');
    await expect(accounts.login('doc', 'a long enough password')).rejects.toMatchObject({ code: 'disabled' });
    await accounts.setDisabled('doc', false);

    const s = await accounts.login('doc', 'a long enough password');
    await accounts.logout(s.token);
    expect(await accounts.endCause(s.grant)).toBe('loggedOut');
    expect((await accounts.listUsers()).map((u) => [u.username, u.role, u.disabled])).toEqual([['admin', 'admin', false], ['doc', 'clinician', false]]);
    await expect(accounts.setDisabled('admin', true)).rejects.toThrow(/last admin/);
    await expect(accounts.setRole('admin', 'clinician')).rejects.toThrow(/last admin/);
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
    await accounts.logout(s.token);
    // the event's check runs on its own (asynchronously)
    await vi.waitFor(() => expect(ended).toEqual(['loggedOut']));
    expect(registry.size).toBe(1);
    // a change made elsewhere (another process) is found by the re-check
    await store.updateUser(a.grant.userId, { disabled: true });
    expect(ended).toEqual(['loggedOut']);
    await registry.checkAll();
    expect(ended).toEqual(['loggedOut', 'userDisabled']);
    expect(registry.size).toBe(0);
    registry.close();
  }, 30_000);
});
