import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AccountsService, AuthError } from '../accounts/accounts.service.ts';
import { SqliteStore } from '../store/sqlite.store.ts';
import { StoreError, type Role } from '../store/store.ts';
import { CliError } from './cli_error.ts';

export async function addUserCommand(username: string, o: { role: string; data: string; passwordEnv: string }): Promise<void> {
  if (o.role !== 'admin' && o.role !== 'clinician') throw new CliError(`--role is admin or clinician, not ${o.role}`);
  const password = process.env[o.passwordEnv];
  if (!password) throw new CliError(`set the new user's password in the environment variable ${o.passwordEnv}`);
  mkdirSync(o.data, { recursive: true, mode: 0o700 });
  const store = new SqliteStore(join(o.data, 'medclass.db'));
  try {
    await new AccountsService(store).createUser(username, password, o.role as Role);
    store.audit({ at: new Date().toISOString(), user: null, action: 'addUser', outcome: 'ok', detail: { role: o.role } });
    process.stdout.write(`added ${o.role} ${username}\n`);
  } catch (e) {
    if (e instanceof AuthError || e instanceof StoreError) throw new CliError(e.message);
    throw e;
  } finally {
    store.close();
  }
}
