import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { SqliteStore } from './sqlite.store.ts';
import { storeContract } from './store.contract.ts';

storeContract('SQLite', {
  async fresh() {
    const folder = mkdtempSync(join(tmpdir(), 'medclass-contract-'));
    return {
      open: async () => new SqliteStore(join(folder, 'medclass.db')),
      drop: async () => rmSync(folder, { recursive: true, force: true }),
    };
  },
});

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'medclass-store-'));
  store = new SqliteStore(join(dir, 'medclass.db'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const publish = (model: string) => store.publish({ service: 'demo', description: 'd', privacyModes: ['reduced'], model, createdBy: 'admin' });

describe('SqliteStore', () => {
  it('caches service records, and sees a publish, a rollback and another process\'s writes', async () => {
    await publish('{"v":1}');
    const first = (await store.findService('demo'))!;
    expect(await store.findService('demo')).toBe(first);
    expect(await store.findService('nothing')).toBeUndefined();
    await publish('{"v":2}');
    expect((await store.findService('demo'))!.currentVersion).toBe(2);
    expect((await store.listServices())[0]!.versions.map((v) => v.version)).toEqual([1, 2]);
    await store.makeCurrent('demo', 1, 'admin');
    expect((await store.findService('demo'))!.currentVersion).toBe(1);
    expect((await store.listServices())[0]!.currentVersion).toBe(1);
    // another connection (as `medclass publish` in another process) publishes and adds a service
    const other = new SqliteStore(join(dir, 'medclass.db'));
    try {
      await other.publish({ service: 'demo', description: 'd2', privacyModes: ['features'], model: '{"v":3}', createdBy: 'cli' });
      await other.publish({ service: 'second', description: 'x', privacyModes: ['reduced'], model: '{}', createdBy: 'cli' });
    } finally {
      await other.close();
    }
    expect(await store.findService('demo')).toMatchObject({ currentVersion: 3, description: 'd2', privacyModes: ['features'] });
    expect((await store.findService('second'))!.currentVersion).toBe(1);
    expect((await store.listServices()).map((s) => s.name)).toEqual(['demo', 'second']);
    // what is handed out is shared, so it cannot be changed
    expect(Object.isFrozen(await store.findService('demo'))).toBe(true);
  });

  it('writes audit rows in batches without losing any, in order, visible to other connections', async () => {
    const file = join(dir, 'medclass.db');
    const reader = new Database(file, { readonly: true });
    const count = () => (reader.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
    try {
      // quiet: written right after the current event
      void store.audit({ at: 'q1', user: 'a', action: 'login', outcome: 'ok' });
      await new Promise((r) => setImmediate(r));
      expect(count()).toBe(1);
      // busy: 250 rows at once, in transactions of up to 100, the rest within flushMs
      for (let i = 0; i < 250; i++) void store.audit({ at: `b${i}`, user: 'a', action: 'classify', outcome: 'ok', detail: { i } });
      expect(count()).toBeGreaterThanOrEqual(201);
      await new Promise((r) => setTimeout(r, 250));
      expect(count()).toBe(251);
      // the trail itself flushes first
      void store.audit({ at: 'last', user: 'a', action: 'logout', outcome: 'ok' });
      expect((await store.auditTrail(2)).map((e) => e.at)).toEqual(['last', 'b249']);
      const ats = (reader.prepare('SELECT at FROM audit ORDER BY id').all() as { at: string }[]).map((r) => r.at);
      expect(ats).toEqual(['q1', ...Array.from({ length: 250 }, (_, i) => `b${i}`), 'last']);
    } finally {
      reader.close();
    }
  });

  it('upgrades a data folder made by the first schema in place, keeping every row', async () => {
    await store.close();
    const file = join(dir, 'old.db');
    const old = new Database(file);
    // the schema as the first release created it (user_version 1), with a little of everything
    old.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL CHECK (role IN ('admin', 'clinician')), password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, expires_at INTEGER NOT NULL);
      CREATE TABLE services (name TEXT PRIMARY KEY, description TEXT NOT NULL, privacy_modes TEXT NOT NULL, current_version INTEGER NOT NULL);
      CREATE TABLE models (service TEXT NOT NULL REFERENCES services(name), version INTEGER NOT NULL, model TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (service, version));
      CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT, action TEXT NOT NULL, service TEXT, model_version INTEGER, outcome TEXT NOT NULL, detail TEXT);
      PRAGMA user_version = 1;
      INSERT INTO users VALUES (1, 'admin', 'admin', 'hash-a', 't0'), (2, 'nurse', 'clinician', 'hash-n', 't1');
      INSERT INTO tokens VALUES ('tok', 2, 99999999999999);
      INSERT INTO services VALUES ('demo', 'the demo, described', '["original","reduced","features"]', 1), ('other', 'another', '["features"]', 2);
      INSERT INTO models VALUES ('demo', 1, '{"spec":{"features":["hog"],"size":28},"labels":["x","y"],"training":{"size":5,"description":"KNN k=5"},"metrics":{"test":null}}', 't2', 'admin'),
        ('other', 1, '{}', 't3', 'cli'), ('other', 2, '{"v":2}', 't4', 'cli');
      INSERT INTO audit (at, user, action, service, model_version, outcome, detail) VALUES ('t5', 'admin', 'publish', 'demo', 1, 'ok', '{"via":"cli"}'), ('t6', 'nurse', 'classify', 'demo', 1, 'ok', NULL);`);
    old.close();
    store = new SqliteStore(file);
    const db = new Database(file, { readonly: true });
    try {
      // 2: versions carry their description and modes; 3: users.disabled; 4: must_change_password, vault_key
      expect(db.pragma('user_version', { simple: true })).toBe(4);
      expect(db.prepare('SELECT count(*) AS n FROM audit').get()).toEqual({ n: 2 });
    } finally {
      db.close();
    }
    expect(await store.findUser('admin')).toMatchObject({ id: 1, role: 'admin', passwordHash: 'hash-a', createdAt: 't0', disabled: false });
    expect(await store.findUser('nurse')).toMatchObject({ id: 2, role: 'clinician', passwordHash: 'hash-n' });
    expect(await store.findToken('tok')).toEqual({ userId: 2, expiresAt: 99999999999999 });
    expect(await store.findService('demo')).toMatchObject({ currentVersion: 1, description: 'the demo, described', privacyModes: ['original', 'reduced', 'features'] });
    expect((await store.findService('demo'))!.versions[0]!.summary).toMatchObject({ classifier: 'KNN k=5', features: ['hog'], size: 28, test: null });
    // each version of a service took the service's description and modes
    const other = (await store.findService('other'))!;
    expect(other.versions.map((v) => [v.version, v.description, v.privacyModes, v.createdBy])).toEqual([
      [1, 'another', ['features'], 'cli'],
      [2, 'another', ['features'], 'cli'],
    ]);
    expect((await store.model('other', 2))!.model).toBe('{"v":2}');
    expect((await store.auditTrail(10)).map((e) => e.at)).toEqual(['t6', 't5']);
    // it goes on working: a new version with its own modes, and back
    await store.publish({ service: 'other', description: 'third', privacyModes: ['reduced'], model: '{}', createdBy: 'admin' });
    expect((await store.makeCurrent('other', 2, 'admin')).privacyModes).toEqual(['features']);
    // opening it again migrates nothing twice
    await store.close();
    store = new SqliteStore(file);
    expect((await store.findService('other'))!.versions).toHaveLength(3);
  });

  it('refuses a database from a newer MedClass', async () => {
    await store.close();
    const file = join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    expect(() => new SqliteStore(file)).toThrow(/newer MedClass \(schema 99/);
    store = new SqliteStore(join(dir, 'medclass.db'));
  });
});
