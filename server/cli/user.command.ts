import { AccountsService, AuthError } from '../accounts/accounts.service.ts';
import { DataFolderError, openDataStore } from '../data_folder.ts';
import { StoreError, type Role } from '../store/store.ts';
import { CliError } from './cli_error.ts';

export async function addUserCommand(username: string, o: { role: string; data: string; passwordEnv: string }): Promise<void> {
  if (o.role !== 'admin' && o.role !== 'clinician') throw new CliError(`--role is admin or clinician, not ${o.role}`);
  const password = process.env[o.passwordEnv];
  if (!password) throw new CliError(`set the new user's password in the environment variable ${o.passwordEnv}`);
  const store = openStore(o.data);
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

/** The data folder's store, its modes set (0700, 0600), or a one-line refusal saying why not. */
export function openStore(dataDir: string): ReturnType<typeof openDataStore>['store'] {
  try {
    return openDataStore(dataDir).store;
  } catch (e) {
    if (e instanceof DataFolderError) throw new CliError(e.message);
    throw e;
  }
}
