/**
 * Health probes and a graceful shutdown of a real `medclass serve` process: /healthz and
 * /readyz, then SIGTERM in the middle of a batch of classifications. Every request is either
 * answered or refused with `serverShuttingDown` (never left hanging), every answer has its
 * audit row, and the process exits 0 on its own.
 */
import Database from 'better-sqlite3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError, type MedclassClient } from '../shared/client/client.ts';
import type { ClassifyImage } from '../shared/protocol/messages.ts';
import { SHUTTING_DOWN_CODE } from '../shared/protocol/session_end.ts';
import { login, openClient } from './channel_login.ts';
import { splitImages } from './golden.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

let server: ServerProcess;
let images: ClassifyImage[];
beforeAll(async () => {
  images = await Promise.all(splitImages('breastmnist', 'test', 8).map(async (f) => ({ mode: 'original' as const, data: new Uint8Array(await readFile(f)) })));
  // the per-connection and per-user ceilings lifted: this test is about the shutdown
  server = await startServerProcess({ env: { MEDCLASS_LOG_LEVEL: 'warn', MEDCLASS_LIMITS: JSON.stringify({ imagesPerMinute: 100_000, concurrentPerConnection: 64, shares: { inFlightPerUser: 64 } }) } });
}, 180_000);
afterAll(() => server?.stop());

const probe = async (path: string) => {
  const r = await fetch(`${server.url}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('health probes and SIGTERM', () => {
  it('says up and ready while serving', async () => {
    expect(await probe('/healthz')).toEqual({ status: 200, body: { ok: true } });
    expect(await probe('/readyz')).toEqual({ status: 200, body: { ready: true } });
  });

  it('drains on SIGTERM: answers or refuses every request, writes their audit rows, refuses new channels, exits 0', async () => {
    // one login, resumed on four channels (parallel password logins would meet the login throttle)
    const { token } = await login(server, 'admin', ADMIN_PASSWORD);
    const clients: MedclassClient[] = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = await openClient(server);
        await c.resume(token);
        return c;
      }),
    );
    type Outcome = { answered: true } | { answered: false; code: string };
    const outcome = (p: Promise<unknown>): Promise<Outcome> =>
      p.then(
        () => ({ answered: true }),
        (e: unknown) => ({ answered: false, code: e instanceof ClientError ? e.code : `not a ClientError: ${String(e)}` }),
      );
    // a first wave in flight, each request a batch of images decoded and classified on the server
    let firstAnswer!: () => void;
    const answering = new Promise<void>((r) => (firstAnswer = r));
    const wave1 = clients.flatMap((c) =>
      Array.from({ length: 8 }, () =>
        outcome(
          c.classify('demo', images).then((results) => {
            firstAnswer();
            return results;
          }),
        ),
      ),
    );
    await answering;

    const exited = new Promise<{ code: number | null; at: number }>((r) => server.child.once('exit', (code) => r({ code, at: performance.now() })));
    const signalled = performance.now();
    server.child.kill('SIGTERM');
    // while it drains: not ready, new channels refused, new requests on open channels refused
    const probes: number[] = [];
    const probing = (async () => {
      while (server.child.exitCode === null) {
        const r = await fetch(`${server.url}/readyz`).then(
          async (res) => ({ status: res.status, body: (await res.json()) as { reason?: string } }),
          () => null,
        );
        if (r) {
          probes.push(r.status);
          if (r.status === 503) expect(r.body.reason).toBe('shutting down');
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const wave2 = clients.map((c) => outcome(c.classify('demo', images.slice(0, 2))));
    // a new channel is refused while it drains (503 at the upgrade), or finds nothing listening after
    await expect(openClient(server)).rejects.toThrow();

    const outcomes = await Promise.all([...wave1, ...wave2]);
    const { code, at } = await exited;
    await probing;
    const answered = outcomes.filter((o) => o.answered).length;
    const refused = outcomes.filter((o): o is { answered: false; code: string } => !o.answered);
    console.log(`SIGTERM with ${wave1.length} requests of ${images.length} images in flight: ${answered} answered, ${refused.length} refused; exit ${code} after ${((at - signalled) / 1000).toFixed(2)} s; /readyz during the drain: ${probes.join(' ') || 'none'}`);
    expect(code).toBe(0);
    expect(answered).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => r.code))).toEqual(new Set(refused.length ? [SHUTTING_DOWN_CODE] : []));
    // the first probe may come before the signal is handled; none is ready after a 503
    expect(probes.slice(probes.indexOf(503)).every((s) => s === 503)).toBe(true);
    expect(server.output()).toMatch(/SIGTERM: shutting down[\s\S]*shut down\n/);

    // every answer the clients received has its audit row (written before the exit)
    const db = new Database(join(server.dataDir, 'medclass.db'), { readonly: true });
    try {
      const rows = db.prepare("SELECT count(*) AS n FROM audit WHERE action = 'classify' AND outcome = 'ok'").get() as { n: number };
      expect(rows.n).toBeGreaterThanOrEqual(answered);
    } finally {
      db.close();
    }
    for (const c of clients) c.close();
  }, 240_000);
});
