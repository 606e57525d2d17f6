import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
});
