import { execFile, execFileSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server_process.ts';

const run = promisify(execFile);

/**
 * A throwaway Postgres for tests: a fresh cluster (initdb) in a temporary folder, on a free
 * port, with its unix socket in that folder too, so nothing on the machine is shared or left
 * behind. Postgres refuses to run as root, so under root every server-side binary runs as the
 * `postgres` user (Debian's package makes it) and the folder is handed to that user.
 *
 * Postgres missing is an error, never a skip: CI installs it (.ci/run), and a Postgres test
 * that skipped would pass without testing anything.
 */
export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:PORT/DATABASE (trust authentication, local only). */
  url: string;
  port: number;
  database: string;
  /** The temporary folder: data/, the socket, and postgres.log. */
  dir: string;
  /** Makes another empty database on this cluster; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL through psql on the cluster's database (or another one); returns psql's unaligned output. */
  psql(sql: string, database?: string): Promise<string>;
  /** Stops the server (fast shutdown: clients are cut off), waits `downMs`, starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

export const POSTGRES_MISSING =
  'Postgres is not installed: no initdb on PATH or in /usr/lib/postgresql/*/bin. Install it (Debian: apt-get install --no-install-recommends postgresql) or run .ci/run, which does.';

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The folder holding initdb, pg_ctl, postgres and psql: first on PATH, else Debian's
 * versioned folders (newest first), which are not on PATH without postgresql-common's wrappers.
 */
export function findPostgresBin(path = process.env['PATH'] ?? '', debianRoot = '/usr/lib/postgresql'): string {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    if (['initdb', 'pg_ctl', 'psql'].every((b) => executable(join(dir, b)))) return dir;
  }
  const versions = existsSync(debianRoot)
    ? readdirSync(debianRoot)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const dir = join(debianRoot, v, 'bin');
    if (executable(join(dir, 'initdb')) && executable(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(POSTGRES_MISSING);
}

const asRoot = () => process.getuid?.() === 0;

/** The command line, prefixed to run as `postgres` when we are root. */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  return asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

const failure = (what: string, e: unknown, log?: string) => {
  const err = e as { stderr?: string; message?: string };
  const tail = log && existsSync(log) ? `\n--- postgres.log (tail) ---\n${readFileSync(log, 'utf8').split('\n').slice(-20).join('\n')}` : '';
  return new Error(`${what} failed: ${(err.stderr || err.message || String(e)).trim()}${tail}`);
};

export async function startPostgresCluster(options: {
  database?: string;
  /** More server settings (name=value), e.g. shared_preload_libraries=pg_stat_statements for the bench. */
  settings?: string[];
} = {}): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  const database = options.database ?? 'medclass';
  const dir = mkdtempSync(join(tmpdir(), 'medclass-pg-'));
  if (asRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(uid)) throw new Error('running as root, and there is no `postgres` user to run Postgres as (Debian\'s postgresql package makes one)');
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  // cwd: the postgres user may not be allowed into the test's working folder
  const exec = (name: string, args: string[]) => {
    const [file, argv] = asPostgres(join(bin, name), args);
    return run(file, argv, { cwd: dir, env: { ...process.env, LC_ALL: 'C' }, timeout: 120_000 });
  };

  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw failure('initdb', e);
  }

  const port = await freePort();
  // A throwaway cluster: durability off where it only costs time (fsync); commits stay
  // synchronous so a restart loses nothing a client was told is committed.
  const settings = ['-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200', ...(options.settings ?? []).flatMap((kv) => ['-c', kv])];
  const start = async () => {
    try {
      await exec('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings.join(' '), 'start']);
    } catch (e) {
      throw failure('starting Postgres', e, log);
    }
  };
  const halt = async (mode: 'fast' | 'immediate') => {
    try {
      await exec('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    } catch (e) {
      throw failure('stopping Postgres', e, log);
    }
  };
  const psql = async (sql: string, db = database) => {
    try {
      const { stdout } = await run(join(bin, 'psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-c', sql], {
        env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
        timeout: 60_000,
      });
      return stdout;
    } catch (e) {
      throw failure(`psql (${sql.slice(0, 60)})`, e);
    }
  };
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;

  // A killed or failed test run must not leave a postmaster behind.
  let stopped = false;
  const reap = () => {
    if (stopped) return;
    try {
      const [file, argv] = asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      execFileSync(file, argv, { cwd: dir, stdio: 'ignore', timeout: 30_000 });
    } catch {
      // already down
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', reap);

  try {
    await start();
    await psql(`CREATE DATABASE "${database}"`, 'postgres');
  } catch (e) {
    reap();
    stopped = true;
    process.off('exit', reap);
    throw e;
  }

  return {
    url: urlOf(database),
    port,
    database,
    dir,
    psql,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)}: use lower-case letters, digits and _`);
      await psql(`CREATE DATABASE "${name}"`, 'postgres');
      return urlOf(name);
    },
    async restart(downMs = 0) {
      await halt('fast');
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', reap);
      try {
        // down already when a restart failed half-way
        if (existsSync(join(data, 'postmaster.pid'))) await halt('immediate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
