import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.store.ts';
import { AccountsService, TOKEN_LIFETIME_MS } from './accounts.service.ts';

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
});
