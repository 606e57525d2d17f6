import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPostgresCluster, type PostgresCluster } from '../../test/postgres_cluster.ts';
import { PostgresStore } from '../store/postgres.store.ts';
import type { ClusterEvent } from './events.ts';
import { PgEvents } from './pg_events.ts';

let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await startPostgresCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('PgEvents', () => {
  it('hears every committed change of access and services from any connection, and resyncs after a lost connection', async () => {
    const url = await cluster.createDatabase('events');
    const writer = await PostgresStore.open(url, { max: 2 });
    const a = new PgEvents(url);
    const b = new PgEvents(url, undefined, writer.pool);
    const heardA: ClusterEvent[] = [];
    const heardB: ClusterEvent[] = [];
    a.subscribe((e) => heardA.push(e));
    b.subscribe((e) => heardB.push(e));
    try {
      await Promise.all([a.ready, b.ready]);
      expect(a.listening && b.listening).toBe(true);
      const user = await writer.createUser({ username: 'ann', role: 'clinician', passwordHash: 'h' });
      await writer.updateUser(user.id, { disabled: true });
      await writer.publish({ service: 's', description: '', privacyModes: ['features'], model: '{}', createdBy: 'cli' });
      await writer.saveToken('t', { userId: user.id, expiresAt: 1e15 });
      await writer.deleteToken('t');
      await writer.deleteUserTokens(user.id);
      const expected: ClusterEvent[] = [
        { kind: 'access', userId: user.id },
        { kind: 'services' },
        { kind: 'access', userId: user.id },
        { kind: 'access', userId: user.id },
      ];
      await vi.waitFor(() => expect(heardA).toEqual(expected), { timeout: 10_000 });
      // a rolled-back write announces nothing
      await expect(writer.makeCurrent('s', 9, 'x')).rejects.toThrow(/no version 9/);
      // an instance's own publish is heard here at once and by the other through the database
      b.publish({ kind: 'access', userId: 42 });
      expect(heardB.at(-1)).toEqual({ kind: 'access', userId: 42 });
      await vi.waitFor(() => expect(heardA.at(-1)).toEqual({ kind: 'access', userId: 42 }), { timeout: 10_000 });
      expect(heardA).toHaveLength(5);

      // Postgres restarts: both reconnect on their own, say `resync`, and hear later changes again
      await cluster.restart(500);
      await vi.waitFor(() => expect(heardA.at(-1)).toEqual({ kind: 'resync' }), { timeout: 30_000, interval: 100 });
      await vi.waitFor(() => expect(heardB).toContainEqual({ kind: 'resync' }), { timeout: 30_000, interval: 100 });
      await vi.waitFor(async () => expect(await writer.countUsers()).toBe(1), { timeout: 30_000, interval: 200 });
      await writer.updateUser(user.id, { disabled: false });
      await vi.waitFor(() => expect(heardA.at(-1)).toEqual({ kind: 'access', userId: user.id }), { timeout: 10_000 });
    } finally {
      await a.close();
      await b.close();
      await writer.close();
    }
  }, 120_000);
});
