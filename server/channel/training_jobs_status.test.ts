import { zipSync } from 'fflate';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SPEC } from '../../shared/features/spec.ts';
import { MESSAGES, type MessageOf } from '../../shared/protocol/messages.ts';
import { dataset } from '../../test/golden.ts';
import type { Logger } from '../log.ts';
import { SqliteStore } from '../store/sqlite.store.ts';
import { DEFAULT_SERVER_LIMITS } from './limits.ts';
import { INSTANCE_STOPPED, TrainingJobs } from './training_jobs.ts';

const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
let dir: string;
let store: SqliteStore;
const instances: TrainingJobs[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'medclass-jobs-'));
  store = new SqliteStore(join(dir, 'medclass.db'));
});
afterEach(async () => {
  for (const j of instances.splice(0)) j.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = (instance: string, more: { heartbeatMs?: number; staleMs?: number } = {}) => {
  const jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log, threads: 1, instance, ...more });
  instances.push(jobs);
  return jobs;
};
const publishMessage = (jobId: string) => ({ type: 'publish' as const, requestId: 'p', jobId, service: 'retina', description: '', privacyModes: ['reduced' as const] });

describe('training jobs in the database', () => {
  it('fails a job whose instance stopped heartbeating (at start-up and later), keeps live ones, and says so on publish', async () => {
    const now = Date.now();
    // instance "killed" stopped 40 s ago in the middle of a job; "alive" heartbeats as it should
    await store.putTrainingJob({ id: 'job-killed', owner: 'admin', instance: 'killed', status: 'running', heartbeatAt: now - 40_000, error: null });
    await store.putTrainingJob({ id: 'job-alive', owner: 'admin', instance: 'alive', status: 'running', heartbeatAt: now, error: null });
    const alive = open('alive', { heartbeatMs: 100, staleMs: 1_000 });
    const other = open('other', { heartbeatMs: 100, staleMs: 1_000 });
    await Promise.all([alive.ready, other.ready]);
    expect(await store.listTrainingJobs('admin')).toMatchObject([
      { id: 'job-alive', status: 'running', error: null },
      { id: 'job-killed', status: 'failed', error: INSTANCE_STOPPED },
    ]);
    // several heartbeats later the live instance's job still runs (its heartbeat moves)
    await new Promise((r) => setTimeout(r, 1_500));
    const [live] = await store.listTrainingJobs('admin');
    expect(live).toMatchObject({ id: 'job-alive', status: 'running' });
    expect(live!.heartbeatAt).toBeGreaterThan(now);
    // and once that instance stops too, the other finds its job within the stale time
    alive.close();
    await expect.poll(async () => (await store.listTrainingJobs('admin')).find((j) => j.id === 'job-alive')?.status, { timeout: 10_000, interval: 100 }).toBe('failed');
    await expect(other.publish('admin', publishMessage('job-killed'))).rejects.toThrow(`job job-killed failed (${INSTANCE_STOPPED}); train it again`);
    await expect(other.publish('admin', publishMessage('job-nobody'))).rejects.toMatchObject({ code: 'notFound' });
  }, 60_000);

  it('records a trained job as done on its instance; only that instance publishes it, then it is published', async () => {
    const a = open('a');
    const b = open('b');
    const files: Record<string, Uint8Array> = {};
    const root = join(dataset('retinamnist'), 'train');
    for (const label of ['0', '3']) for (const f of readdirSync(join(root, label)).sort().slice(0, 8)) files[`${label}/${f}`] = new Uint8Array(readFileSync(join(root, label, f)));
    const zip = zipSync(files);
    a.startUpload('admin', {}, { type: 'uploadStart', requestId: 'r', uploadId: 'u', name: 'x.zip', totalBytes: zip.length, files: 1 });
    a.chunk('admin', { type: 'uploadChunk', uploadId: 'u', seq: 0, data: zip });
    await a.endUpload('admin', { type: 'uploadEnd', requestId: 'r', uploadId: 'u' });
    const body = MESSAGES.train.body.parse({ requestId: 'r', uploadId: 'u', spec: { ...DEFAULT_SPEC, size: 28, pixelsPerCell: 7 }, classifier: { kind: 'knn', k: 3 } });
    const done = new Promise<MessageOf<'trainDone'>>((resolve, reject) => {
      const job = a.train('admin', { type: 'train', ...body }, { progress() {}, done: resolve, failed: (code, message) => reject(new Error(`${code}: ${message}`)) });
      job.start();
    });
    const { jobId } = await done;
    expect(await store.listTrainingJobs('admin')).toMatchObject([{ id: jobId, instance: 'a', status: 'done', error: null }]);
    await expect(b.publish('admin', publishMessage(jobId))).rejects.toThrow(/trained on another server instance, which holds its model/);
    expect(await store.findService('retina')).toBeUndefined();
    const v = await a.publish('admin', publishMessage(jobId));
    expect(v.version).toBe(1);
    expect(await store.listTrainingJobs('admin')).toMatchObject([{ id: jobId, instance: 'a', status: 'published' }]);
  }, 180_000);
});
