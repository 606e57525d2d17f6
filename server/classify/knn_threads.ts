import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { argmaxRow, type Evaluation } from '../../shared/classify/evaluation.ts';
import { evaluateKnn, type KnnModel } from '../../shared/classify/knn.ts';
import type { Matrix } from '../../shared/classify/linalg.ts';
import { workerModule } from '../features/worker_url.ts';

/** Rows a thread takes at a time: small enough to share 400 rows out evenly, large enough for the products to run at speed. */
const BLOCK_ROWS = 32;
/** Below this many rows a second thread costs more (a message, a wake-up) than it saves. */
const THREADS_FROM_ROWS = 2 * BLOCK_ROWS;

/** A KNN model as a helper gets it: its training rows in shared memory. */
export type SharedKnnModel = Omit<KnnModel, 'samples'> & { samples: { rows: number; cols: number; data: Float64Array } };

/** One call's work, shared by every thread: the test rows, their votes, and counter[0] the next row to take, counter[1] the rows done. */
export interface KnnTask {
  id: number;
  model: SharedKnnModel;
  rows: number;
  cols: number;
  x: Float64Array;
  scores: Float64Array;
  counter: Int32Array;
}

/** Takes blocks of rows until none are left; each block's votes go into task.scores. */
export function knnBlocks(model: KnnModel, task: Omit<KnnTask, 'model'>): void {
  const { rows, cols, x, scores, counter } = task;
  const k = model.nClasses;
  for (;;) {
    const r0 = Atomics.add(counter, 0, BLOCK_ROWS);
    if (r0 >= rows) return;
    const r1 = Math.min(rows, r0 + BLOCK_ROWS);
    const e = evaluateKnn(model, { rows: r1 - r0, cols, data: x.subarray(r0 * cols, r1 * cols) });
    scores.set(e.scores, r0 * k);
    Atomics.add(counter, 1, r1 - r0);
  }
}

/** The training set in shared memory, made once per model, so that helpers read it without a copy. */
const shared = new WeakMap<KnnModel, { id: number; model: SharedKnnModel }>();
let nextId = 1;

function sharedModel(model: KnnModel): { id: number; model: SharedKnnModel } {
  let entry = shared.get(model);
  if (!entry) {
    const data = new Float64Array(new SharedArrayBuffer(model.samples.data.byteLength));
    data.set(model.samples.data);
    entry = { id: nextId++, model: { ...model, samples: { rows: model.samples.rows, cols: model.samples.cols, data } } };
    shared.set(model, entry);
  }
  return entry;
}

/**
 * Shared memory for calls' test rows and votes, kept for the next call: fresh memory costs a
 * page fault per 4 KiB on first touch, which on a sandboxed machine cost more than the whole
 * KNN (about 20 ms for 400 x 1,770 rows, against 0.4 ms to copy them into memory touched
 * before). A call returns its buffer once every row is done: a helper that starts later
 * finds its counter spent and touches nothing.
 */
const spare: SharedArrayBuffer[] = [];
const KEEP_SPARE = 2;

function lease(bytes: number): SharedArrayBuffer {
  const i = spare.findIndex((b) => b.byteLength >= bytes);
  return i >= 0 ? spare.splice(i, 1)[0]! : new SharedArrayBuffer(bytes);
}

let pool: Piscina | null = null;
/** Models whose first call waited for the helpers (started, code compiled, training set taken in), while they live. */
const warm = new Set<number>();

/** Helpers kept between calls (idle ones end after a while and never hold the process open). */
function helpers(count: number): Piscina {
  if (!pool || pool.maxThreads < count) {
    void pool?.destroy();
    warm.clear();
    pool = new Piscina({ ...workerModule('./knn.worker', import.meta.url), minThreads: 0, maxThreads: count, idleTimeout: 60_000 });
    pool.on('workerDestroy', () => warm.clear());
  }
  return pool;
}

/**
 * evaluateKnn on `threads` threads: this one and helpers kept for the next call. The test
 * rows sit in shared memory and every thread takes blocks of them from a shared counter
 * until none are left, writing their votes into a shared result, so a helper that starts
 * late (a busy machine) takes fewer blocks instead of holding the call up. Each row's votes
 * are computed as evaluateKnn computes them alone: the same bits.
 */
export async function evaluateKnnThreads(model: KnnModel, X: Matrix, threads = availableParallelism()): Promise<Evaluation> {
  const count = Math.max(1, Math.min(threads, Math.floor(X.rows / THREADS_FROM_ROWS)));
  if (count === 1) return evaluateKnn(model, X);
  const { id, model: sharedSamples } = sharedModel(model);
  const k = model.nClasses;
  const memory = lease(X.data.byteLength + X.rows * k * 8);
  const x = new Float64Array(memory, 0, X.data.length);
  x.set(X.data);
  const scores = new Float64Array(memory, X.data.byteLength, X.rows * k);
  const counter = new Int32Array(new SharedArrayBuffer(8));
  const task: KnnTask = { id, model: sharedSamples, rows: X.rows, cols: X.cols, x, scores, counter };
  const workers = helpers(count - 1);
  // piscina learns that a helper is free from its answer, an event on this thread's loop: let
  // the last call's answers in first, so that the tasks go out now rather than after this
  // thread's own part
  await new Promise(setImmediate);
  const all = Promise.all(Array.from({ length: count - 1 }, () => workers.run(task) as Promise<void>));
  // a helper's failure is reported below, not as an unhandled rejection when nothing waits for it
  all.catch(() => {});
  knnBlocks(model, task);
  // Blocks a helper still works on: wait for it (it ends when the counter runs out). The
  // first call of a model waits for the helpers in any case, so that later calls find them
  // started and holding the model (a helper that is not yet there takes no rows).
  if (Atomics.load(counter, 1) < X.rows || !warm.has(id)) await all;
  warm.add(id);
  const votes = scores.slice();
  if (spare.length < KEEP_SPARE) spare.push(memory);
  const predicted = Int32Array.from({ length: X.rows }, (_, i) => argmaxRow(votes, i, k));
  return { k, predicted, scores: votes, probabilities: votes };
}
