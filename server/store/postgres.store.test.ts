import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type PostgresCluster } from '../../test/postgres_cluster.ts';
import { PG_SCHEMA_VERSION, PostgresStore } from './postgres.store.ts';
import { storeContract } from './store.contract.ts';

// One throwaway cluster for the file, a fresh database per test. No Postgres is a failure, not a skip.
let cluster: PostgresCluster;
let databases = 0;
beforeAll(async () => {
  cluster = await startPostgresCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

const freshDatabase = () => cluster.createDatabase(`contract_${++databases}`);

storeContract('Postgres', {
  async fresh() {
    const url = await freshDatabase();
    const name = new URL(url).pathname.slice(1);
    return {
      open: () => PostgresStore.open(url, { max: 4 }),
      drop: async () => void (await cluster.psql(`DROP DATABASE "${name}" WITH (FORCE)`, 'postgres')),
    };
  },
});

describe('PostgresStore migrations', () => {
  it('several instances starting at once migrate the schema once, under the advisory lock', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresStore.open(url, { max: 2 })));
    try {
      const name = new URL(url).pathname.slice(1);
      expect((await cluster.psql('SELECT version FROM schema_migrations ORDER BY version', name)).trim().split('\n').map(Number)).toEqual(
        Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
      );
      await stores[0]!.createUser({ username: 'admin', role: 'admin', passwordHash: 'h' });
      expect(await stores[4]!.countUsers()).toBe(1);
    } finally {
      for (const s of stores) await s.close();
    }
  }, 60_000);

  it('refuses a database written by a newer MedClass, in one line', async () => {
    const url = await freshDatabase();
    await (await PostgresStore.open(url)).close();
    await cluster.psql('INSERT INTO schema_migrations (version) VALUES (99)', new URL(url).pathname.slice(1));
    await expect(PostgresStore.open(url)).rejects.toThrow(/newer MedClass \(schema 99/);
  }, 60_000);

  it('says plainly when the database is away, and works again once it is back, without a new store', async () => {
    const url = await freshDatabase();
    const store = await PostgresStore.open(url, { max: 2 });
    try {
      await store.createUser({ username: 'admin', role: 'admin', passwordHash: 'h' });
      await cluster.restart();
      // the pool's connections died with the server: the first query may fail plainly, later ones reconnect
      const first = await store.countUsers().catch((e: unknown) => e);
      if (first instanceof Error) expect(first).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/temporarily unavailable/) });
      expect(await store.countUsers()).toBe(1);
      await store.audit({ at: 'after', user: null, action: 'test', outcome: 'ok' });
      expect((await store.auditTrail(1))[0]!.at).toBe('after');
    } finally {
      await store.close();
    }
  }, 120_000);
});
