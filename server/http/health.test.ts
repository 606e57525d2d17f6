import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { createMedclassServer } from '../server.ts';

const dir = mkdtempSync(join(tmpdir(), 'medclass-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('/readyz', () => {
  it('is 503 with the reason when a current model cannot be read, and when the store does not answer', async () => {
    const server = await createMedclassServer({ dataDir: dir, adminPassword: 'an admin password for tests', demo: false, logger: createLogger('warn'), threads: 1 });
    const ready = async () => {
      const r = await server.app.inject({ method: 'GET', url: '/readyz' });
      return { status: r.statusCode, body: r.json() as unknown };
    };
    try {
      expect(await ready()).toEqual({ status: 200, body: { ready: true } });
      await server.store.publish({ service: 'broken', model: '{"not": "a model"}', description: '', privacyModes: ['features'], createdBy: 'admin' });
      expect(await ready()).toEqual({ status: 503, body: { ready: false, reason: 'models not loaded: broken v1' } });
      await server.store.close();
      const down = await ready();
      expect(down.status).toBe(503);
      expect((down.body as { reason: string }).reason).toMatch(/^the database is unavailable: /);
      expect((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await server.close().catch(() => undefined);
    }
  }, 120_000);
});
