import { DataFolderError, openDataStore } from '../data_folder.ts';
import { PostgresStore } from './postgres.store.ts';
import type { Store } from './store.ts';

/** The environment variable that picks a shared database for every server-side command. */
export const DATABASE_URL_ENV = 'MEDCLASS_DATABASE_URL';

/** The shared database chosen, if any: --database wins over MEDCLASS_DATABASE_URL. */
export const databaseUrlOf = (o: { database?: string | undefined }): string | undefined => o.database || process.env[DATABASE_URL_ENV] || undefined;

/** A refusal to open the store that the user can act on (a data folder, a URL, a database away). */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

export interface OpenedStore {
  store: Store;
  /** Set for Postgres: what several instances share (and its URL, for the event listener). */
  databaseUrl: string | null;
}

/** The URL with its password left out, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');

/**
 * The store a server-side command works on: Postgres when a database URL is given (the
 * scaled-out deployment), else SQLite in the data folder (made private: data_folder.ts).
 */
export async function openStore(o: { data: string; database?: string | undefined }): Promise<OpenedStore> {
  const url = databaseUrlOf(o);
  if (!url) {
    try {
      return { store: openDataStore(o.data).store, databaseUrl: null };
    } catch (e) {
      if (e instanceof DataFolderError) throw new StoreOpenError(e.message);
      throw e;
    }
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new StoreOpenError(`the database URL must start with postgres:// (got ${redactUrl(url).slice(0, 40)}); leave it out for SQLite in the data folder`);
  try {
    return { store: await PostgresStore.open(url), databaseUrl: url };
  } catch (e) {
    throw new StoreOpenError(`cannot open the database at ${redactUrl(url)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
