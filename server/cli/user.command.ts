import { AccountsService, AuthError } from '../accounts/accounts.service.ts';
import { DataFolderError, openDataStore } from '../data_folder.ts';
import { StoreError, type Role } from '../store/store.ts';
import { CliError } from './cli_error.ts';

/** Runs one change on the server's data folder; a running server ends the user's sessions at its next re-check. */
async function withAccounts<T>(data: string, action: string, detail: Record<string, string>, work: (accounts: AccountsService) => Promise<T> | T): Promise<T> {
  const store = openStore(data);
  try {
    const out = await work(new AccountsService(store));
    await store.audit({ at: new Date().toISOString(), user: null, action, outcome: 'ok', detail });
    return out;
  } catch (e) {
    if (e instanceof AuthError || e instanceof StoreError) throw new CliError(e.message);
    throw e;
  } finally {
    await store.close();
  }
}

const role = (r: string): Role => {
  if (r !== 'admin' && r !== 'clinician') throw new CliError(`the role is admin or clinician, not ${r}`);
  return r;
};

const passwordFrom = (env: string): string => {
  const password = process.env[env];
  if (!password) throw new CliError(`set the password in the environment variable ${env}`);
  return password;
};

export async function addUserCommand(username: string, o: { role: string; data: string; passwordEnv: string }): Promise<void> {
  const r = role(o.role);
  const password = passwordFrom(o.passwordEnv);
  await withAccounts(o.data, 'addUser', { role: r }, (a) => a.createUser(username, password, r));
  process.stdout.write(`added ${r} ${username}\n`);
}

export async function userCommand(verb: string, username: string, o: { data: string; role?: string; passwordEnv: string }): Promise<void> {
  switch (verb) {
    case 'disable':
    case 'enable':
      await withAccounts(o.data, verb === 'disable' ? 'disableUser' : 'enableUser', { target: username }, (a) => a.setDisabled(username, verb === 'disable'));
      break;
    case 'role': {
      if (!o.role) throw new CliError('give the new role with --role admin or --role clinician');
      const r = role(o.role);
      await withAccounts(o.data, 'setRole', { target: username, role: r }, (a) => a.setRole(username, r));
      break;
    }
    case 'password': {
      const password = passwordFrom(o.passwordEnv);
      await withAccounts(o.data, 'changePassword', { target: username }, (a) => a.changePassword(username, password));
      break;
    }
    case 'list': {
      const users = await withAccounts(o.data, 'listUsers', {}, (a) => a.listUsers());
      for (const u of users) process.stdout.write(`${u.username} ${u.role}${u.disabled ? ' (disabled)' : ''}\n`);
      return;
    }
    default:
      throw new CliError(`unknown user command ${verb}: disable, enable, role, password or list`);
  }
  process.stdout.write(`${verb}: ${username} done; a running server ends their sessions within seconds\n`);
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
