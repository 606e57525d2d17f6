import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBin, POSTGRES_MISSING, startPostgresCluster, type PostgresCluster } from './postgres_cluster.ts';

describe('throwaway Postgres cluster for tests', () => {
  let pg: PostgresCluster;
  beforeAll(async () => {
    pg = await startPostgresCluster();
  }, 180_000);
  afterAll(() => pg?.stop());

  it('answers on its URL, keeps data across a restart on the same port, and is gone after stop', async () => {
    expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/medclass`);
    expect(await pg.psql('SELECT current_database()')).toBe('medclass\n');
    await pg.psql('CREATE TABLE t (n int); INSERT INTO t VALUES (41), (1)');
    await pg.restart(200);
    expect(await pg.psql('SELECT sum(n) FROM t')).toBe('42\n');

    const other = await pg.createDatabase('second_db');
    expect(other).toBe(`postgres://postgres@127.0.0.1:${pg.port}/second_db`);
    expect(await pg.psql('SELECT count(*) FROM pg_tables WHERE tablename = \'t\'', 'second_db')).toBe('0\n');

    const dir = pg.dir;
    await pg.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(pg.psql('SELECT 1')).rejects.toThrow(/psql/);
    await pg.stop(); // twice is fine
  }, 180_000);

  it('takes extra server settings: pg_stat_statements loaded, as bench:server --database postgres uses it', async () => {
    const withStats = await startPostgresCluster({ settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all'] });
    try {
      expect(await withStats.psql('SHOW shared_preload_libraries')).toBe('pg_stat_statements\n');
      await withStats.psql('CREATE EXTENSION pg_stat_statements');
      await withStats.psql('SELECT pg_stat_statements_reset()');
      await withStats.psql('CREATE TABLE counted (n int); INSERT INTO counted VALUES (1)');
      expect(Number(await withStats.psql("SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'INSERT INTO counted%'"))).toBe(1);
    } finally {
      await withStats.stop();
    }
  }, 180_000);

  it('says plainly when Postgres is not installed, rather than skipping', () => {
    const empty = mkdtempSync(join(tmpdir(), 'medclass-nopg-'));
    try {
      expect(() => findPostgresBin(empty, join(empty, 'none'))).toThrow(POSTGRES_MISSING);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect(findPostgresBin()).toMatch(/bin$/);
  });
});
