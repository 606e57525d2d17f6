import { openStore, StoreOpenError } from '../store/open_store.ts';
import type { Store } from '../store/store.ts';
import { CliError } from './cli_error.ts';

/** Where the server keeps its state: the data folder (SQLite), or a shared database (--database, MEDCLASS_DATABASE_URL). */
export interface StoreOptions {
  data: string;
  database?: string;
}

/** The server's store for a command run beside it, or a one-line refusal saying why not. */
export async function cliStore(o: StoreOptions): Promise<Store> {
  try {
    return (await openStore(o)).store;
  } catch (e) {
    if (e instanceof StoreOpenError) throw new CliError(e.message);
    throw e;
  }
}
