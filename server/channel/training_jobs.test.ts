import { zipSync } from 'fflate';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { inflateCounters, resetInflateCounters } from '../../shared/image/inflate.ts';
import { zipBomb } from '../../test/hostile_files.ts';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../log.ts';
import type { AuditEntry, Store } from '../store/store.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseModel } from '../../shared/classify/model.ts';
import { DEFAULT_SPEC } from '../../shared/features/spec.ts';
import { MESSAGES, type MessageOf } from '../../shared/protocol/messages.ts';
import { dataset } from '../../test/golden.ts';
import { DEFAULT_SERVER_LIMITS } from './limits.ts';
import { settingsFor, TrainingJobs } from './training_jobs.ts';

const audit: AuditEntry[] = [];
const store = { audit: async (e: AuditEntry) => void audit.push(e) } as unknown as Store;
const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
let jobs: TrainingJobs;
afterEach(() => jobs?.close());

const start = (id: string, totalBytes: number, connection: object = {}) =>
  jobs.startUpload('admin', connection, { type: 'uploadStart', requestId: 'r', uploadId: id, name: 'x.zip', totalBytes, files: 1 });
const chunk = (id: string, seq: number, data: Uint8Array) => jobs.chunk('admin', { type: 'uploadChunk', uploadId: id, seq, data });
const end = (id: string) => jobs.endUpload('admin', { type: 'uploadEnd', requestId: 'r', uploadId: id });

describe('TrainingJobs uploads', () => {
  it('keeps a received upload for several jobs until it is idle for the limit, and drops unfinished ones with their connection', async () => {
    const told: unknown[] = [];
    jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log, notify: (owner, m) => told.push([owner, m]) });
    const zip = zipSync({ 'a/1.png': new Uint8Array(8), 'b/2.png': new Uint8Array(8) });
    start('u1', zip.length);
    chunk('u1', 0, zip.subarray(0, 10));
    chunk('u1', 1, zip.subarray(10));
    await expect(end('u1')).resolves.toEqual({ images: 2 });
    expect(audit.at(-1)).toMatchObject({ action: 'upload', outcome: 'ok', detail: { bytes: zip.length, images: 2 } });
    expect(JSON.stringify(audit)).not.toMatch(/png/);

    // still there 29 minutes on: a job takes it (started later by its caller)
    const sink = { progress() {}, done() {}, failed() {} };
    const train = (uploadId: string) => jobs.train('admin', { type: 'train', requestId: 'r', uploadId, spec: DEFAULT_SPEC, classifier: { kind: 'svm' } }, sink);
    jobs.sweep(Date.now() + 29 * 60_000);
    expect(train('u1').jobId).toMatch(/^job-/);
    // kept, but one job at a time
    expect(() => train('u1')).toThrow(expect.objectContaining({ code: 'busy' }));
    // a new upload replaces the admin's last one (not while a job uses it: that one waits for the job)
    start('u2', zip.length);
    chunk('u2', 0, zip);
    await end('u2');
    expect(() => train('u2')).toThrow(expect.objectContaining({ code: 'busy' }));
    // gone after 31 minutes unused, and the owner is told
    jobs.sweep(Date.now() + 31 * 60_000);
    expect(() => train('u2')).toThrow(expect.objectContaining({ code: 'notFound' }));
    expect(told).toContainEqual(['admin', expect.objectContaining({ type: 'uploadDropped', uploadId: 'u2', reason: 'expired', message: expect.stringMatching(/x\.zip was not used for 30 minutes/) })]);

    const connection = {};
    start('u3', 10, connection);
    jobs.connectionClosed(connection);
    expect(() => chunk('u3', 0, new Uint8Array(4))).toThrow(/no upload u3/);
  });

  it('refuses a second upload while one is received, and chunks past the size or out of order', async () => {
    jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log });
    start('a', 10);
    expect(() => start('b', 10)).toThrow(expect.objectContaining({ code: 'conflict' }));
    expect(() => chunk('a', 0, new Uint8Array(11))).toThrow(expect.objectContaining({ code: 'uploadTooLarge' }));
    chunk('a', 5, new Uint8Array(1)); // ignored: already refused
    await expect(end('a')).rejects.toMatchObject({ code: 'uploadTooLarge' });
    start('c', 10);
    expect(() => chunk('c', 1, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'badUpload' }));
    await expect(end('c')).rejects.toMatchObject({ code: 'badUpload' });
    expect(() => start('d', DEFAULT_SERVER_LIMITS.upload.maxBytes + 1)).toThrow(expect.objectContaining({ code: 'uploadTooLarge' }));
    expect(() => start('e', 0)).toThrow(expect.objectContaining({ code: 'badUpload' }));
  });
});

describe('kept uploads', () => {
  const zipOf = (n: number) => zipSync({ 'a/1.png': new Uint8Array(n), 'b/2.png': new Uint8Array(n) });
  const upload = async (owner: string, id: string, bytes: Uint8Array) => {
    jobs.startUpload(owner, {}, { type: 'uploadStart', requestId: 'r', uploadId: id, name: `${id}.zip`, totalBytes: bytes.length, files: 2 });
    jobs.chunk(owner, { type: 'uploadChunk', uploadId: id, seq: 0, data: bytes });
    await jobs.endUpload(owner, { type: 'uploadEnd', requestId: 'r', uploadId: id });
  };
  const trainable = (owner: string, id: string) => {
    try {
      jobs.train(owner, { type: 'train', requestId: 'r', uploadId: id, spec: DEFAULT_SPEC, classifier: { kind: 'svm' } }, { progress() {}, done() {}, failed() {} });
      return 'started';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };

  it('keeps all admins\' uploads under a memory cap, dropping the least recently used first and telling its owner', async () => {
    const told: [string, unknown][] = [];
    // room for two uploads of 2 x 1000 inflated bytes
    jobs = new TrainingJobs({ store, limits: { ...DEFAULT_SERVER_LIMITS, upload: { ...DEFAULT_SERVER_LIMITS.upload, keepBytes: 4500 } }, log, notify: (owner, m) => told.push([owner, m]) });
    await upload('ann', 'a1', zipOf(1000));
    await upload('bob', 'b1', zipOf(1000));
    expect(told).toEqual([]);
    await upload('cat', 'c1', zipOf(1000));
    expect(told).toEqual([['ann', expect.objectContaining({ type: 'uploadDropped', uploadId: 'a1', reason: 'memory', message: expect.stringMatching(/a1\.zip was dropped to make room/) })]]);
    expect(trainable('ann', 'a1')).toBe('notFound');
    // bob's is used by a job (and so touched last): dan's upload makes cat's the least recently used
    expect(trainable('bob', 'b1')).toBe('started');
    await upload('dan', 'd1', zipOf(1000));
    expect(told.map(([owner]) => owner)).toEqual(['ann', 'cat']);
  });

  it('drops an upload when its owner says so', async () => {
    jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log });
    await upload('ann', 'a1', zipOf(10));
    expect(() => jobs.dropUpload('bob', 'a1')).toThrow(expect.objectContaining({ code: 'notFound' }));
    jobs.dropUpload('ann', 'a1');
    expect(trainable('ann', 'a1')).toBe('notFound');
    expect(audit.at(-1)).toMatchObject({ user: 'ann', action: 'upload', outcome: 'dropped' });
  });
});

describe('TrainingJobs upload memory and inflation', () => {
  it('reserves nothing for a declared size: blocks are allocated as bytes come', () => {
    jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log });
    const before = process.memoryUsage().arrayBuffers;
    start('big', DEFAULT_SERVER_LIMITS.upload.maxBytes);
    const afterStart = process.memoryUsage().arrayBuffers - before;
    chunk('big', 0, new Uint8Array(3 * 2 ** 20 + 5));
    const afterChunk = process.memoryUsage().arrayBuffers - before;
    console.log(`declared 512 MiB: +${afterStart} bytes of buffers at uploadStart, +${(afterChunk / 2 ** 20).toFixed(2)} MiB after a chunk of 3 MiB`);
    expect(afterStart).toBeLessThan(2 ** 20);
    expect(afterChunk).toBeLessThan(2 * (3 * 2 ** 20 + 5) + 2 ** 20);
  });

  it('inflates a 256 MiB dataset ZIP on a worker thread: the event loop goes on (max stall printed)', { timeout: 120_000 }, async () => {
    jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log });
    const bomb = zipBomb(); // 8 x 32 MiB of zeros, about 266 KB
    resetInflateCounters();
    const delay = monitorEventLoopDelay({ resolution: 5 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    delay.enable();
    const started = performance.now();
    start('bomb', bomb.length);
    for (let seq = 0, o = 0; o < bomb.length; seq++, o += 256 * 1024) chunk('bomb', seq, bomb.subarray(o, o + 256 * 1024));
    await expect(end('bomb')).resolves.toEqual({ images: 8 });
    const ms = performance.now() - started;
    delay.disable();
    clearInterval(ticker);
    const maxStallMs = delay.max / 1e6;
    console.log(`256 MiB upload (${bomb.length} bytes): read in ${ms.toFixed(0)} ms on the worker; event loop max stall ${maxStallMs.toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, ${ticks} timer ticks meanwhile`);
    // structurally: the inflation ran on the worker (this thread inflated nothing), and the loop kept turning
    expect(jobs.unzip.runs).toBe(1);
    expect(inflateCounters.calls).toBe(0);
    expect(ticks).toBeGreaterThan(0);
    expect(audit.at(-1)).toMatchObject({ action: 'upload', outcome: 'ok', detail: { images: 8, inflatedBytes: 256 * 2 ** 20 } });
    // a bomb whose headers lie is refused on the worker with its code intact
    const lying = zipBomb(2, 4 * 2 ** 20);
    const view = new DataView(lying.buffer);
    const eocd = lying.length - 22;
    for (let i = 0, o = view.getUint32(eocd + 16, true); i < 2; i++, o += 46 + view.getUint16(o + 28, true)) view.setUint32(o + 24, 1000, true);
    start('lying', lying.length);
    chunk('lying', 0, lying);
    await expect(end('lying')).rejects.toMatchObject({ code: 'zipTooLarge', message: expect.stringMatching(/more than the 1000 bytes its header declares/) });
    expect(inflateCounters.calls).toBe(0);
  });
});

describe('settingsFor', () => {
  it("fills in the CLI's defaults and resolves gamma 'auto' from the vector length", () => {
    expect(settingsFor({ kind: 'svm' })(100)).toMatchObject({ params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } }, probability: true, classWeight: null, seed: 1 });
    expect(settingsFor({ kind: 'svm', gamma: 'auto', C: 3, classWeight: 'balanced', probability: false })(200)).toMatchObject({
      params: { C: 3, gamma: { value: 1 / 200 } },
      classWeight: 'balanced',
      probability: false,
    });
    expect(settingsFor({ kind: 'svm', gamma: 0.5 })(1).params).toMatchObject({ gamma: { value: 0.5 } });
    expect(settingsFor({ kind: 'knn' })(1).params).toEqual({ type: 'knn', k: 5, metric: 'euclidean', weights: 'uniform' });
    expect(settingsFor({ kind: 'knn', k: 3, metric: 'cosine', weights: 'distance' })(1).params).toEqual({ type: 'knn', k: 3, metric: 'cosine', weights: 'distance' });
    expect(() => settingsFor({ kind: 'svm', kernel: 'linear', gamma: 1 })).toThrow(/gamma applies to the RBF kernel only/);
  });
});

describe('TrainingJobs with the feature families', () => {
  it('trains on colour images with a spec of the new families, as the channel carries it', async () => {
    let published = '';
    const publishing = { ...store, publish: (p: { model: string }) => ((published = p.model), { version: 1 }) } as unknown as Store;
    jobs = new TrainingJobs({ store: publishing, limits: DEFAULT_SERVER_LIMITS, log, threads: 1 });
    const files: Record<string, Uint8Array> = {};
    const root = join(dataset('retinamnist'), 'train');
    for (const label of ['0', '3']) {
      for (const f of readdirSync(join(root, label)).sort().slice(0, 8)) files[`${label}/${f}`] = new Uint8Array(readFileSync(join(root, label, f)));
    }
    const zip = zipSync(files);
    start('c1', zip.length);
    chunk('c1', 0, zip);
    await expect(end('c1')).resolves.toEqual({ images: 16 });
    // the train message as the channel validates it: the spec schema is the shared one
    const spec = { ...DEFAULT_SPEC, size: 28, pixelsPerCell: 7, features: ['lbp', 'glcmAngles', 'colourMoments'], lbp: [{ method: 'uniform', points: 8, radius: 1 }], glcmDistances: [1, 2] };
    const body = MESSAGES.train.body.parse({ requestId: 'r', uploadId: 'c1', spec, classifier: { kind: 'knn', k: 3 } });
    const done = new Promise<MessageOf<'trainDone'>>((resolve, reject) => {
      const { start: run } = jobs.train('admin', { type: 'train', ...body }, { progress() {}, done: resolve, failed: (code, message) => reject(new Error(`${code}: ${message}`)) });
      run();
    });
    const { jobId } = await done;
    await jobs.publish('admin', { type: 'publish', requestId: 'p', jobId, service: 'retina', description: '', privacyModes: ['reduced'] });
    const model = parseModel(published);
    expect(model.spec).toMatchObject({ features: ['lbp', 'glcmAngles', 'colourMoments'], glcmDistances: [1, 2], histogramBins: 32 });
    expect(model.featureLength).toBe(10 + 6 * 2 * 4 + 15);
  }, 180_000);
});
