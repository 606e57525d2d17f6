import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, TrainingJobRecord } from './store.ts';

/**
 * What every engine behind `Store` must do, run against each (sqlite.store.test.ts,
 * postgres.store.test.ts). `fresh` makes an empty database and returns a way to open it; each
 * call of `open` is another connection (as another instance or the CLI would have).
 */
export interface EngineUnderTest {
  fresh(): Promise<{ open(): Promise<Store>; drop(): Promise<void> }>;
}

const model = (accuracy: number) =>
  JSON.stringify({
    spec: { features: ['hog', 'glcmContrast'], size: 64 },
    labels: ['a', 'b'],
    training: { size: 40, description: 'SVM rbf C=1', params: { type: 'svm' } },
    metrics: { estimate: { mode: 'validation', metrics: { n: 8, accuracy: 0.75, balancedAccuracy: 0.7, auc: null } }, test: { n: 10, accuracy, balancedAccuracy: accuracy, auc: 0.9 } },
  });

export function storeContract(name: string, engine: EngineUnderTest): void {
  describe(`Store contract: ${name}`, () => {
    let db: Awaited<ReturnType<EngineUnderTest['fresh']>>;
    let store: Store;
    const others: Store[] = [];
    const another = async () => {
      const s = await db.open();
      others.push(s);
      return s;
    };
    beforeEach(async () => {
      db = await engine.fresh();
      store = await db.open();
    }, 60_000);
    afterEach(async () => {
      await store.close();
      for (const o of others.splice(0)) await o.close();
      await db.drop();
    }, 60_000);

    const publish = (m: string, s = store) => s.publish({ service: 'demo', description: 'd', privacyModes: ['reduced'], model: m, createdBy: 'admin' });

    it('publishes versions, rolls back, and keeps all of it across a reopen', async () => {
      expect((await publish('{"v":1}')).version).toBe(1);
      expect((await publish('{"v":2}')).version).toBe(2);
      expect((await store.model('demo'))!.model).toBe('{"v":2}');
      expect((await store.makeCurrent('demo', 1, 'admin')).currentVersion).toBe(1);
      expect((await store.model('demo'))!.model).toBe('{"v":1}');
      expect((await store.model('demo', 2))!).toMatchObject({ service: 'demo', version: 2, model: '{"v":2}', createdBy: 'admin' });
      expect(await store.model('demo', 3)).toBeUndefined();
      expect(await store.model('none')).toBeUndefined();
      await store.close();
      store = await db.open();
      const [service] = await store.listServices();
      expect(service).toMatchObject({ name: 'demo', currentVersion: 1, privacyModes: ['reduced'] });
      expect(service!.versions.map((v) => v.version)).toEqual([1, 2]);
    });

    it('refuses a rollback to a version that does not exist and changes nothing', async () => {
      await publish('{}');
      await expect(store.makeCurrent('demo', 7, 'admin')).rejects.toMatchObject({ code: 'notFound', message: expect.stringMatching(/no version 7/) });
      await expect(store.makeCurrent('other', 1, 'admin')).rejects.toThrow(/no version 1/);
      expect((await store.findService('demo'))!.currentVersion).toBe(1);
    });

    it('keeps a description, modes and a summary per version: a rollback restores them, a roll forward too, each change of modes audited', async () => {
      await store.publish({ service: 'demo', description: 'first, reduced only', privacyModes: ['reduced'], model: model(0.8), createdBy: 'ann' });
      await store.publish({ service: 'demo', description: 'second, originals too', privacyModes: ['original', 'reduced'], model: model(0.9), createdBy: 'bob' });
      expect(await store.findService('demo')).toMatchObject({ currentVersion: 2, description: 'second, originals too', privacyModes: ['original', 'reduced'] });
      expect(await store.makeCurrent('demo', 1, 'carol')).toMatchObject({ currentVersion: 1, description: 'first, reduced only', privacyModes: ['reduced'] });
      expect((await store.findService('demo'))!.privacyModes).toEqual(['reduced']);
      expect(await store.makeCurrent('demo', 2, 'carol')).toMatchObject({ currentVersion: 2, description: 'second, originals too', privacyModes: ['original', 'reduced'] });
      const [v1, v2] = (await store.findService('demo'))!.versions;
      expect(v1).toMatchObject({ version: 1, createdBy: 'ann', description: 'first, reduced only', privacyModes: ['reduced'] });
      expect(v1!.summary).toEqual({
        classifier: 'SVM rbf C=1',
        features: ['hog', 'glcmContrast'],
        size: 64,
        labels: ['a', 'b'],
        trainedOn: 40,
        test: { n: 10, accuracy: 0.8, balancedAccuracy: 0.8, auc: 0.9 },
        estimate: { n: 8, accuracy: 0.75, balancedAccuracy: 0.7, auc: null, mode: 'validation' },
      });
      expect(v2!.summary!.test!.accuracy).toBe(0.9);
      const modes = (await store.auditTrail(50)).filter((e) => e.action === 'modes');
      expect(modes.map((e) => [e.user, e.modelVersion, e.detail])).toEqual([
        ['carol', 2, { from: 'reduced', to: 'original,reduced', via: 'makeCurrent' }],
        ['carol', 1, { from: 'original,reduced', to: 'reduced', via: 'makeCurrent' }],
        ['bob', 2, { from: 'reduced', to: 'original,reduced', via: 'publish' }],
        ['ann', 1, { from: '', to: 'reduced', via: 'publish' }],
      ]);
      await store.publish({ service: 'demo', description: 'third', privacyModes: ['original', 'reduced'], model: '{}', createdBy: 'bob' });
      expect((await store.auditTrail(50)).filter((e) => e.action === 'modes')).toHaveLength(4);
      expect((await store.findService('demo'))!.versions[2]!.summary).toBeNull();
    });

    it('keeps the device mode per version like the others: a rollback to a version without it takes it away, seen by another connection, audited', async () => {
      await store.publish({ service: 'demo', description: 'server only', privacyModes: ['reduced', 'features'], model: model(0.8), createdBy: 'ann' });
      await store.publish({ service: 'demo', description: 'on devices too', privacyModes: ['reduced', 'device'], model: model(0.9), createdBy: 'ann' });
      const other = await another();
      expect(await other.findService('demo')).toMatchObject({ currentVersion: 2, privacyModes: ['reduced', 'device'] });
      expect((await other.findService('demo'))!.versions.map((v) => v.privacyModes)).toEqual([['reduced', 'features'], ['reduced', 'device']]);
      await store.makeCurrent('demo', 1, 'bob');
      expect((await other.findService('demo'))!.privacyModes).toEqual(['reduced', 'features']);
      await store.publish({ service: 'devices-only', description: '', privacyModes: ['device'], model: '{}', createdBy: 'ann' });
      expect((await store.findService('devices-only'))!.privacyModes).toEqual(['device']);
      await store.close();
      store = await db.open();
      expect((await store.findService('demo'))!.versions[1]!.privacyModes).toEqual(['reduced', 'device']);
      const modes = (await store.auditTrail(50)).filter((e) => e.action === 'modes' && e.service === 'demo');
      expect(modes[0]).toMatchObject({ user: 'bob', modelVersion: 1, detail: { from: 'reduced,device', to: 'reduced,features', via: 'makeCurrent' } });
    });

    it('gives concurrent publishes of one service, from several connections, one version each', async () => {
      const b = await another();
      const versions = await Promise.all(Array.from({ length: 8 }, (_, i) => publish(`{"i":${i}}`, i % 2 ? b : store)));
      expect(versions.map((v) => v.version).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect((await b.findService('demo'))!.currentVersion).toBe(8);
    });

    it('sees what another connection (another instance, the CLI) writes, at once', async () => {
      await publish('{"v":1}');
      expect((await store.findService('demo'))!.currentVersion).toBe(1);
      const other = await another();
      await other.publish({ service: 'demo', description: 'd2', privacyModes: ['features'], model: '{"v":2}', createdBy: 'cli' });
      await other.publish({ service: 'second', description: 'x', privacyModes: ['reduced'], model: '{}', createdBy: 'cli' });
      expect(await store.findService('demo')).toMatchObject({ currentVersion: 2, description: 'd2', privacyModes: ['features'] });
      expect((await store.listServices()).map((s) => s.name)).toEqual(['demo', 'second']);
      expect(await store.findService('nothing')).toBeUndefined();
      const u = await other.createUser({ username: 'nurse', role: 'clinician', passwordHash: 'h' });
      await other.updateUser(u.id, { disabled: true });
      expect(await store.findUser('nurse')).toMatchObject({ disabled: true });
    });

    it('keeps users: unique names, changes field by field, counts by role', async () => {
      const admin = await store.createUser({ username: 'admin', role: 'admin', passwordHash: 'ha' });
      const nurse = await store.createUser({ username: 'nurse', role: 'clinician', passwordHash: 'hn', mustChangePassword: true });
      expect(admin).toMatchObject({ username: 'admin', role: 'admin', disabled: false, mustChangePassword: false });
      expect(nurse.mustChangePassword).toBe(true);
      await expect(store.createUser({ username: 'nurse', role: 'admin', passwordHash: 'x' })).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.countUsers()).toBe(2);
      expect(await store.countUsers('admin')).toBe(1);
      expect(await store.userById(nurse.id)).toEqual(nurse);
      expect(await store.findUser('nobody')).toBeUndefined();
      expect(await store.userById(9999)).toBeUndefined();
      expect(await store.updateUser(nurse.id, { role: 'admin' })).toMatchObject({ role: 'admin', passwordHash: 'hn', mustChangePassword: true, disabled: false });
      expect(await store.updateUser(nurse.id, { passwordHash: 'h2', mustChangePassword: false, disabled: true })).toMatchObject({ role: 'admin', passwordHash: 'h2', mustChangePassword: false, disabled: true });
      expect(await store.findUser('nurse')).toMatchObject({ role: 'admin', passwordHash: 'h2', mustChangePassword: false, disabled: true, createdAt: nurse.createdAt });
      await expect(store.updateUser(9999, { disabled: true })).rejects.toMatchObject({ code: 'notFound' });
      expect((await store.listUsers()).map((u) => u.username)).toEqual(['admin', 'nurse']);
    });

    it('keeps token hashes until deleted, per token, per user, or on expiry', async () => {
      const a = await store.createUser({ username: 'ann', role: 'clinician', passwordHash: 'h' });
      const b = await store.createUser({ username: 'bob', role: 'clinician', passwordHash: 'h' });
      await store.saveToken('t1', { userId: a.id, expiresAt: 1_000 });
      await store.saveToken('t2', { userId: a.id, expiresAt: 99_999_999_999_999 });
      await store.saveToken('t3', { userId: b.id, expiresAt: 99_999_999_999_999 });
      await store.saveToken('t4', { userId: b.id, expiresAt: 99_999_999_999_999 });
      expect(await store.findToken('t2')).toEqual({ userId: a.id, expiresAt: 99_999_999_999_999 });
      await store.deleteExpiredTokens(1_000);
      expect(await store.findToken('t1')).toBeUndefined();
      await store.deleteToken('t3');
      expect(await store.findToken('t3')).toBeUndefined();
      expect(await store.findToken('t4')).toBeDefined();
      await store.deleteUserTokens(a.id);
      expect(await store.findToken('t2')).toBeUndefined();
      expect(await store.findToken('t4')).toEqual({ userId: b.id, expiresAt: 99_999_999_999_999 });
    });

    it('keeps the audit trail in order, details as given, and finds entries by user, service, action, time and page', async () => {
      await store.audit({ at: '2026-01-01T00:00:01Z', user: 'a', action: 'login', outcome: 'ok' });
      await store.audit({ at: '2026-01-01T00:00:02Z', user: 'a', action: 'classify', service: 'demo', modelVersion: 1, outcome: 'ok', detail: { extractMs: 1.5, mode: 'reduced', ok: true } });
      await store.audit({ at: '2026-01-02T00:00:00Z', user: 'b', action: 'classify', service: 'other', modelVersion: 2, outcome: 'failed' });
      await store.audit({ at: '2026-01-03T00:00:00Z', user: null, action: 'publish', service: 'demo', modelVersion: 2, outcome: 'ok', detail: { via: 'cli' } });
      expect((await store.auditTrail(2)).map((e) => e.at)).toEqual(['2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z']);
      expect((await store.auditTrail(10))[2]).toEqual({ at: '2026-01-01T00:00:02Z', user: 'a', action: 'classify', service: 'demo', modelVersion: 1, outcome: 'ok', detail: { extractMs: 1.5, mode: 'reduced', ok: true } });
      expect((await store.auditTrail(10))[3]).toEqual({ at: '2026-01-01T00:00:01Z', user: 'a', action: 'login', service: null, modelVersion: null, outcome: 'ok', detail: null });
      const at = async (q: Parameters<Store['searchAudit']>[0]) => (await store.searchAudit(q)).map((e) => e.at);
      expect(await at({ user: 'a', limit: 10 })).toEqual(['2026-01-01T00:00:02Z', '2026-01-01T00:00:01Z']);
      expect(await at({ service: 'demo', limit: 10 })).toEqual(['2026-01-03T00:00:00Z', '2026-01-01T00:00:02Z']);
      expect(await at({ action: 'classify', user: 'b', limit: 10 })).toEqual(['2026-01-02T00:00:00Z']);
      expect(await at({ from: '2026-01-01T12:00:00Z', to: '2026-01-02T23:59:59Z', limit: 10 })).toEqual(['2026-01-02T00:00:00Z']);
      const [newest, next] = await store.searchAudit({ limit: 2 });
      expect(newest!.id).toBeGreaterThan(next!.id);
      expect(await at({ before: next!.id, limit: 10 })).toEqual(['2026-01-01T00:00:02Z', '2026-01-01T00:00:01Z']);
      expect(await at({ user: '', limit: 1 })).toEqual(['2026-01-03T00:00:00Z']);
    });

    it('resolves audit() only once the row is committed: another connection reads it then', async () => {
      const other = await another();
      const written = Array.from({ length: 120 }, (_, i) => store.audit({ at: `r${i}`, user: 'u', action: 'classify', outcome: 'ok', detail: { i } }));
      await written[0];
      expect((await other.searchAudit({ action: 'classify', limit: 200 })).some((e) => e.at === 'r0')).toBe(true);
      await Promise.all(written);
      const rows = await other.searchAudit({ action: 'classify', limit: 200 });
      expect(rows.map((e) => e.at).reverse()).toEqual(Array.from({ length: 120 }, (_, i) => `r${i}`));
    });

    it('writes audit rows still queued when it closes', async () => {
      const queued = Array.from({ length: 30 }, (_, i) => store.audit({ at: `c${i}`, user: null, action: 'classify', outcome: 'ok' }));
      await store.close();
      await Promise.all(queued);
      store = await db.open();
      expect(await store.auditTrail(100)).toHaveLength(30);
    });

    it('counts per key and window, atomically across connections, and starts each window at zero', async () => {
      const other = await another();
      const totals = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : store).addToCounter('images:ann', 60_000, 3)));
      expect(totals.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 3 * (i + 1)));
      expect(await store.addToCounter('images:bob', 60_000, 1)).toBe(1);
      expect(await other.addToCounter('images:ann', 120_000, 2)).toBe(2);
      expect(await store.addToCounter('images:ann', 120_000, -2)).toBe(0);
    });

    it('keeps training jobs: heartbeats for one instance, stale running jobs failed once, per owner', async () => {
      const other = await another();
      const job = (id: string, instance: string, status: TrainingJobRecord['status'] = 'running') => ({ id, owner: 'admin', instance, status, heartbeatAt: 1_000, error: null });
      await store.putTrainingJob(job('j1', 'a'));
      await other.putTrainingJob(job('j2', 'b'));
      await store.putTrainingJob({ ...job('j3', 'b', 'done'), owner: 'root' });
      await store.heartbeatTrainingJobs('a', 40_000);
      expect((await other.listTrainingJobs()).map((j) => [j.id, j.heartbeatAt])).toEqual([
        ['j1', 40_000],
        ['j2', 1_000],
        ['j3', 1_000],
      ]);
      // j2's instance stopped: both sweeping at once, it is marked (and reported) once; j3 is finished, j1 alive
      const swept = await Promise.all([store.failStaleTrainingJobs(10_000, 'the instance running it stopped'), other.failStaleTrainingJobs(10_000, 'the instance running it stopped')]);
      expect(swept.flat()).toEqual(['j2']);
      expect(await store.listTrainingJobs('admin')).toEqual([{ ...job('j1', 'a'), heartbeatAt: 40_000 }, { ...job('j2', 'b', 'failed'), error: 'the instance running it stopped' }]);
      await store.putTrainingJob({ ...job('j1', 'a', 'published'), heartbeatAt: 41_000 });
      expect((await other.listTrainingJobs('root')).map((j) => j.id)).toEqual(['j3']);
      expect((await other.listTrainingJobs('admin'))[0]).toMatchObject({ id: 'j1', status: 'published' });
      await expect(store.putTrainingJob({ ...job('j4', 'a'), status: 'lost' as 'done' })).rejects.toThrow();
    });

    it('prunes finished training jobs last written before a time, never running ones', async () => {
      const job = (id: string, status: TrainingJobRecord['status'], heartbeatAt: number) => ({ id, owner: 'admin', instance: 'a', status, heartbeatAt, error: null });
      for (const j of [job('old-done', 'done', 1_000), job('old-failed', 'failed', 1_000), job('old-published', 'published', 1_000), job('old-running', 'running', 1_000), job('new-done', 'done', 9_000)]) await store.putTrainingJob(j);
      const other = await another();
      expect(await other.pruneTrainingJobs(5_000)).toBe(3);
      expect((await store.listTrainingJobs()).map((j) => j.id)).toEqual(['new-done', 'old-running']);
      expect(await store.pruneTrainingJobs(5_000)).toBe(0);
    });

    it('keeps the first value of a server secret for every instance, per name', async () => {
      const other = await another();
      const made = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3), new Uint8Array(32).fill(4)];
      const got = await Promise.all(made.map((v, i) => (i % 2 ? other : store).serverSecret('device', v)));
      expect(made.some((v) => Buffer.from(v).equals(Buffer.from(got[0]!)))).toBe(true);
      for (const g of got) expect(Buffer.from(g).equals(Buffer.from(got[0]!))).toBe(true);
      expect(Buffer.from(await store.serverSecret('device', new Uint8Array(32).fill(9))).equals(Buffer.from(got[0]!))).toBe(true);
      expect([...(await other.serverSecret('another', new Uint8Array(32).fill(9)))]).toEqual(Array(32).fill(9));
    });

    it('makes one vault key per user, once, even when asked for at once by several connections', async () => {
      const u = await store.createUser({ username: 'ann', role: 'clinician', passwordHash: 'h' });
      const v = await store.createUser({ username: 'bob', role: 'clinician', passwordHash: 'h' });
      const other = await another();
      const keys = await Promise.all([store.vaultKey(u.id), other.vaultKey(u.id), store.vaultKey(u.id), other.vaultKey(u.id)]);
      expect(keys[0]).toHaveLength(32);
      for (const k of keys) expect(Buffer.from(k).equals(Buffer.from(keys[0]!))).toBe(true);
      expect(Buffer.from(await store.vaultKey(v.id)).equals(Buffer.from(keys[0]!))).toBe(false);
      await expect(store.vaultKey(9999)).rejects.toMatchObject({ code: 'notFound' });
    });
  });
}
