/**
 * Three `medclass serve` processes on one throwaway Postgres, with one identity: what one
 * instance (or the `medclass` commands) changes, the others' clients hear at once, through LISTEN/NOTIFY
 * rather than the 2 s polls. Latencies are measured and printed, not asserted (the box is shared).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { setDisabled } from '../shared/client/account_api.ts';
import { MedclassClient, type PushEvent } from '../shared/client/client.ts';
import { parsePin } from '../shared/protocol/identity.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { medclassWith } from './classify_data.ts';
import { startPostgresCluster, type PostgresCluster } from './postgres_cluster.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const MODEL = join(PROJECT_ROOT, 'test', 'data', 'models', 'breast_knn_v1.json');
const NURSE_PASSWORD = 'a nurse password for tests';

let cluster: PostgresCluster;
let env: Record<string, string>;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  cluster = await startPostgresCluster();
  const key = await medclassWith({}, 'identity', '--new', '--stdout');
  expect(key.code).toBe(0);
  env = { MEDCLASS_DATABASE_URL: cluster.url, MEDCLASS_IDENTITY_KEY: key.stdout, MEDCLASS_LOG_LEVEL: 'warn' };
  // a service and a user before the servers start, through the commands on the shared database
  const published = await medclassWith(env, 'publish', MODEL, '--service', 'breast', '--modes', 'reduced,features', '--description', 'first');
  expect(published.stderr).toBe('');
  expect(published.stdout).toMatch(/^published breast version 1 /);
  expect((await medclassWith({ ...env, MEDCLASS_PASSWORD: NURSE_PASSWORD }, 'add-user', 'nurse')).stdout).toBe('added clinician nurse\n');
  // started together: the schema and the first admin are made once
  servers.push(...(await Promise.all([0, 1, 2].map(() => startServerProcess({ env, args: ['--no-demo', '--images-per-minute', '12'] })))));
}, 300_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await cluster?.stop();
}, 120_000);

interface Watched {
  client: MedclassClient;
  pushes: { at: number; event: PushEvent }[];
  closed: { at: number; code: number } | null;
}

async function connect(server: ServerProcess, user: string, password: string): Promise<Watched> {
  const transport = await connectWebSocket(server.url);
  const client = await MedclassClient.connect(transport, [await parsePin(server.pin)]);
  const watched: Watched = { client, pushes: [], closed: null };
  const onClose = transport.onClose;
  transport.onClose = (code, reason) => {
    watched.closed = { at: performance.now(), code };
    onClose(code, reason);
  };
  await client.login(user, password);
  client.onPush((event) => watched.pushes.push({ at: performance.now(), event }));
  return watched;
}

describe('three instances on one Postgres', () => {
  it('present one identity and serve the same services and users', async () => {
    expect(new Set(servers.map((s) => s.pin)).size).toBe(1);
    for (const s of servers) {
      const nurse = await connect(s, 'nurse', NURSE_PASSWORD);
      expect((await nurse.client.listServices()).map((x) => [x.name, x.version])).toEqual([['breast', 1]]);
      nurse.client.close();
    }
  }, 60_000);

  it('a publish (medclass publish) and a rollback through one instance reach the others\' clients at once', async () => {
    const admin = await connect(servers[0]!, 'admin', ADMIN_PASSWORD);
    const nurses = await Promise.all(servers.slice(1).map((s) => connect(s, 'nurse', NURSE_PASSWORD)));
    try {
      let started = performance.now();
      const published = await medclassWith(env, 'publish', MODEL, '--service', 'breast', '--modes', 'features', '--description', 'second');
      expect(published.stdout).toMatch(/^published breast version 2 /);
      const exited = performance.now() - started;
      const publishMs: number[] = [];
      for (const nurse of nurses) {
        await vi.waitFor(() => expect(nurse.pushes.map((p) => p.event.type === 'serviceChanged' && p.event.service.version)).toContain(2), { timeout: 10_000, interval: 20 });
        publishMs.push(nurse.pushes.at(-1)!.at - started);
        expect(nurse.pushes.at(-1)!.event).toMatchObject({ type: 'serviceChanged', service: { name: 'breast', version: 2, description: 'second', privacyModes: ['features'] } });
      }

      started = performance.now();
      await admin.client.makeCurrent('breast', 1);
      const rollbackMs: number[] = [];
      for (const nurse of nurses) {
        await vi.waitFor(() => expect(nurse.pushes.at(-1)?.event).toMatchObject({ type: 'serviceChanged', service: { version: 1, description: 'first' } }), { timeout: 10_000, interval: 20 });
        rollbackMs.push(nurse.pushes.at(-1)!.at - started);
        expect((await nurse.client.listServices())[0]).toMatchObject({ version: 1, privacyModes: ['reduced', 'features'] });
      }
      const ms = (xs: number[]) => xs.map((x) => `${x.toFixed(0)} ms`).join(' and ');
      process.stdout.write(`scale-out: a CLI publish reached the clients of instances 2 and 3 ${ms(publishMs)} after the command started (the command itself took ${exited.toFixed(0)} ms to exit); a rollback on instance 1 reached them ${ms(rollbackMs)} after it was sent (the poll backstop is 2000 ms)\n`);
    } finally {
      admin.client.close();
      for (const n of nurses) n.client.close();
    }
  }, 120_000);

  it('a user disabled through one instance loses the live sessions on the others at once (4044)', async () => {
    const admin = await connect(servers[0]!, 'admin', ADMIN_PASSWORD);
    const nurses = await Promise.all(servers.slice(1).map((s) => connect(s, 'nurse', NURSE_PASSWORD)));
    try {
      const started = performance.now();
      await setDisabled(admin.client, 'nurse', true);
      for (const nurse of nurses) await vi.waitFor(() => expect(nurse.closed?.code).toBe(4044), { timeout: 10_000, interval: 20 });
      process.stdout.write(`scale-out: disabling on instance 1 closed the sessions on instances 2 and 3 in ${nurses.map((n) => `${(n.closed!.at - started).toFixed(0)} ms`).join(' and ')} (re-check backstop 2000 ms)\n`);
      await setDisabled(admin.client, 'nurse', false);
    } finally {
      admin.client.close();
      for (const n of nurses) n.client.close();
    }
  }, 120_000);

  it('every classification answered by either instance has its audit row in the shared trail', async () => {
    const nurse0 = await connect(servers[0]!, 'admin', ADMIN_PASSWORD);
    const nurse1 = await connect(servers[1]!, 'admin', ADMIN_PASSWORD);
    try {
      const model = JSON.parse(readFileSync(MODEL, 'utf8')) as { input: { featureLength: number } };
      const vector = new Uint8Array(new Float64Array(model.input.featureLength).fill(0.5).buffer);
      const before = Number((await cluster.psql("SELECT count(*) FROM audit WHERE action = 'classify'")).trim());
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? nurse1 : nurse0).client.classify('breast', [{ mode: 'features', data: { vector } }])));
      expect(answers.every((a) => a[0]!.ok)).toBe(true);
      expect(Number((await cluster.psql("SELECT count(*) FROM audit WHERE action = 'classify' AND outcome = 'ok'")).trim()) - before).toBe(10);
    } finally {
      nurse0.client.close();
      nurse1.client.close();
    }
  }, 120_000);

  it('counts a user\'s images per minute across the instances (12 a minute here)', async () => {
    const a = await connect(servers[0]!, 'nurse', NURSE_PASSWORD);
    const b = await connect(servers[1]!, 'nurse', NURSE_PASSWORD);
    try {
      // the allowance is a one-minute window: do not straddle its end
      const left = 60_000 - (Date.now() % 60_000);
      if (left < 10_000) await new Promise((r) => setTimeout(r, left + 200));
      const model = JSON.parse(readFileSync(MODEL, 'utf8')) as { input: { featureLength: number } };
      const image = { mode: 'features' as const, data: { vector: new Uint8Array(new Float64Array(model.input.featureLength).fill(0.25).buffer) } };
      expect((await a.client.classify('breast', Array.from({ length: 8 }, () => image))).every((r) => r.ok)).toBe(true);
      // 8 + 8 > 12: refused on the other instance too, and what is left (4) still goes there
      await expect(b.client.classify('breast', Array.from({ length: 8 }, () => image))).rejects.toMatchObject({ code: 'rateLimited' });
      expect((await b.client.classify('breast', Array.from({ length: 4 }, () => image))).every((r) => r.ok)).toBe(true);
      await expect(a.client.classify('breast', [image])).rejects.toMatchObject({ code: 'rateLimited' });
    } finally {
      a.client.close();
      b.client.close();
    }
  }, 120_000);

  // last: it leaves this address refused for the rest of the minute
  it('counts failed logins from one address across the instances (10 a minute)', async () => {
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 15_000) await new Promise((r) => setTimeout(r, left + 200));
    const clients = await Promise.all(servers.map(async (s) => MedclassClient.connect(await connectWebSocket(s.url), [await parsePin(s.pin)])));
    try {
      // other names each time: the (user, address) delays stay out of it; 4, 3 and 3 on the instances
      for (let i = 0; i < 10; i++) await expect(clients[i % clients.length]!.login(`guess${i}`, 'a wrong password here')).rejects.toMatchObject({ code: 'badCredentials' });
      for (const c of clients) await expect(c.login('nurse', NURSE_PASSWORD)).rejects.toThrow(/too many login attempts from this address/);
    } finally {
      for (const c of clients) c.close();
    }
  }, 120_000);
});
