import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { SqliteStore } from './sqlite.store.ts';

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'medclass-store-'));
  store = new SqliteStore(join(dir, 'medclass.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const publish = (model: string) => store.publish({ service: 'demo', description: 'd', privacyModes: ['reduced'], model, createdBy: 'admin' });

describe('SqliteStore', () => {
  it('publishes versions, rolls back, and keeps all of it across a reopen', () => {
    expect(publish('{"v":1}').version).toBe(1);
    expect(publish('{"v":2}').version).toBe(2);
    expect(store.model('demo')!.model).toBe('{"v":2}');
    expect(store.rollback('demo', 1).currentVersion).toBe(1);
    expect(store.model('demo')!.model).toBe('{"v":1}');
    expect(store.model('demo', 2)!.model).toBe('{"v":2}');
    store.close();
    store = new SqliteStore(join(dir, 'medclass.db'));
    const [service] = store.listServices();
    expect(service).toMatchObject({ name: 'demo', currentVersion: 1, privacyModes: ['reduced'] });
    expect(service!.versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('refuses a rollback to a version that does not exist and changes nothing', () => {
    publish('{}');
    expect(() => store.rollback('demo', 7)).toThrow(/no version 7/);
    expect(() => store.rollback('other', 1)).toThrow(/no version 1/);
    expect(store.findService('demo')!.currentVersion).toBe(1);
  });

  it('keeps the audit trail in order, details as given', () => {
    store.audit({ at: 't1', user: 'a', action: 'login', outcome: 'ok' });
    store.audit({ at: 't2', user: 'a', action: 'classify', service: 'demo', modelVersion: 1, outcome: 'ok', detail: { extractMs: 1.5 } });
    expect(store.auditTrail(10)).toEqual([
      { at: 't2', user: 'a', action: 'classify', service: 'demo', modelVersion: 1, outcome: 'ok', detail: { extractMs: 1.5 } },
      { at: 't1', user: 'a', action: 'login', service: null, modelVersion: null, outcome: 'ok', detail: null },
    ]);
  });

  it('caches service records, and sees a publish, a rollback and another process\'s writes', () => {
    publish('{"v":1}');
    const first = store.findService('demo')!;
    expect(store.findService('demo')).toBe(first);
    expect(store.findService('nothing')).toBeUndefined();
    publish('{"v":2}');
    expect(store.findService('demo')!.currentVersion).toBe(2);
    expect(store.listServices()[0]!.versions.map((v) => v.version)).toEqual([1, 2]);
    store.rollback('demo', 1);
    expect(store.findService('demo')!.currentVersion).toBe(1);
    expect(store.listServices()[0]!.currentVersion).toBe(1);
    // another connection (as `medclass publish` in another process) publishes and adds a service
    const other = new SqliteStore(join(dir, 'medclass.db'));
    try {
      other.publish({ service: 'demo', description: 'd2', privacyModes: ['features'], model: '{"v":3}', createdBy: 'cli' });
      other.publish({ service: 'second', description: 'x', privacyModes: ['reduced'], model: '{}', createdBy: 'cli' });
    } finally {
      other.close();
    }
    expect(store.findService('demo')).toMatchObject({ currentVersion: 3, description: 'd2', privacyModes: ['features'] });
    expect(store.findService('second')!.currentVersion).toBe(1);
    expect(store.listServices().map((s) => s.name)).toEqual(['demo', 'second']);
    // what is handed out is shared, so it cannot be changed
    expect(Object.isFrozen(store.findService('demo'))).toBe(true);
  });

  it('writes audit rows in batches without losing any, in order, visible to other connections', async () => {
    const file = join(dir, 'medclass.db');
    const reader = new Database(file, { readonly: true });
    const count = () => (reader.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
    try {
      // quiet: written right after the current event
      store.audit({ at: 'q1', user: 'a', action: 'login', outcome: 'ok' });
      await new Promise((r) => setImmediate(r));
      expect(count()).toBe(1);
      // busy: 250 rows at once, in transactions of up to 100, the rest within flushMs
      for (let i = 0; i < 250; i++) store.audit({ at: `b${i}`, user: 'a', action: 'classify', outcome: 'ok', detail: { i } });
      expect(count()).toBeGreaterThanOrEqual(201);
      await new Promise((r) => setTimeout(r, 250));
      expect(count()).toBe(251);
      // the trail itself flushes first
      store.audit({ at: 'last', user: 'a', action: 'logout', outcome: 'ok' });
      expect(store.auditTrail(2).map((e) => e.at)).toEqual(['last', 'b249']);
      const ats = (reader.prepare('SELECT at FROM audit ORDER BY id').all() as { at: string }[]).map((r) => r.at);
      expect(ats).toEqual(['q1', ...Array.from({ length: 250 }, (_, i) => `b${i}`), 'last']);
    } finally {
      reader.close();
    }
  });

  it('writes pending audit rows on close', () => {
    for (let i = 0; i < 30; i++) store.audit({ at: `c${i}`, user: null, action: 'classify', outcome: 'ok' });
    store.close();
    store = new SqliteStore(join(dir, 'medclass.db'));
    expect(store.auditTrail(100)).toHaveLength(30);
  });
});
