import { zipSync } from 'fflate';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { inflateCounters, resetInflateCounters } from '../../shared/image/inflate.ts';
import { zipBomb } from '../../test/hostile_files.ts';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../log.ts';
import type { AuditEntry, Store } from '../store/store.ts';
import { DEFAULT_SPEC } from '../../shared/features/spec.ts';
import { DEFAULT_SERVER_LIMITS } from './limits.ts';
import { settingsFor, TrainingJobs } from './training_jobs.ts';

const audit: AuditEntry[] = [];
const store = { audit: (e: AuditEntry) => audit.push(e) } as unknown as Store;
const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
let jobs: TrainingJobs;
afterEach(() => jobs?.close());

const start = (id: string, totalBytes: number, connection: object = {}) =>
  jobs.startUpload('admin', connection, { type: 'uploadStart', requestId: 'r', uploadId: id, name: 'x.zip', totalBytes, files: 1 });
const chunk = (id: string, seq: number, data: Uint8Array) => jobs.chunk('admin', { type: 'uploadChunk', uploadId: id, seq, data });
const end = (id: string) => jobs.endUpload('admin', { type: 'uploadEnd', requestId: 'r', uploadId: id });

describe('TrainingJobs uploads', () => {
  it('holds a received upload until it is trained or idle for the limit, and drops unfinished ones with their connection', async () => {
    jobs = new TrainingJobs({ store, limits: DEFAULT_SERVER_LIMITS, log });
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
    expect(() => train('u1')).toThrow(expect.objectContaining({ code: 'notFound' })); // handed to the job
    // one job at a time
    start('u2', zip.length);
    chunk('u2', 0, zip);
    await end('u2');
    expect(() => train('u2')).toThrow(expect.objectContaining({ code: 'busy' }));
    // gone after 31 minutes unused
    jobs.sweep(Date.now() + 31 * 60_000);
    expect(() => train('u2')).toThrow(expect.objectContaining({ code: 'notFound' }));

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
