import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IDENTITY_FILE } from './identity_file.ts';
import { SqliteStore } from './store/sqlite.store.ts';

/**
 * The data folder holds password and token hashes, the audit trail and the server's signing
 * key: it is the owner's alone (0700, its files 0600), whatever the umask or an older
 * install left. A folder made elsewhere (the README's /home/medclass-data) is fixed at start;
 * where that is not possible (another owner, a file system without modes) the server refuses
 * to start and says why.
 */
export const DATABASE_FILE = 'medclass.db';
/** The database and the files SQLite keeps beside it (WAL mode), and the identity key. */
export const PRIVATE_FILES = [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, IDENTITY_FILE];

export class DataFolderError extends Error {
  override name = 'DataFolderError';
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

function restrict(path: string, mode: number, what: string): void {
  try {
    if ((statSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
  } catch (e) {
    throw new DataFolderError(`cannot make ${what} ${path} private (mode ${octal(mode)}): ${(e as Error).message}; fix its owner or mode, or use another --data folder`);
  }
  const now = statSync(path).mode & 0o777;
  if (now & 0o077) {
    throw new DataFolderError(`${what} ${path} stays readable by others (mode ${octal(now)}) after chmod ${octal(mode)}: its file system ignores modes; use another --data folder`);
  }
}

/** Makes the folder (0700) if needed and gives it and the private files that exist their modes. */
export function secureDataFolder(dataDir: string): void {
  if (process.platform === 'win32') return; // modes do not apply; NTFS permissions are the admin's
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DataFolderError(`cannot make the data folder ${dataDir}: ${(e as Error).message}`);
  }
  if (!statSync(dataDir).isDirectory()) throw new DataFolderError(`the data folder ${dataDir} is not a folder`);
  restrict(dataDir, 0o700, 'the data folder');
  for (const name of PRIVATE_FILES) {
    const file = join(dataDir, name);
    if (existsSync(file)) restrict(file, 0o600, 'the data file');
  }
}

/**
 * Opens the store of a data folder with the modes above. The database file is made 0600
 * before SQLite opens it, as SQLite gives its -wal and -shm files the database's mode.
 */
export function openDataStore(dataDir: string): { store: SqliteStore; database: string } {
  secureDataFolder(dataDir);
  const database = join(dataDir, DATABASE_FILE);
  if (!existsSync(database) && process.platform !== 'win32') closeSync(openSync(database, 'a', 0o600));
  const store = new SqliteStore(database);
  secureDataFolder(dataDir);
  return { store, database };
}
