import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Evaluation } from '../../shared/classify/evaluation.ts';
import { evaluateKnn, type KnnModel } from '../../shared/classify/knn.ts';
import type { Matrix } from '../../shared/classify/linalg.ts';
import { workerModule } from '../features/worker_url.ts';
import type { KnnWorkerTask } from './knn.worker.ts';

/** Below this many rows a second thread costs more (a message, a first product) than it saves. */
const THREADS_FROM_ROWS = 32;

/** The training set in shared memory, made once per model, so that helpers read it without a copy. */
const shared = new WeakMap<KnnModel, { id: number; model: KnnWorkerTask['model'] }>();
let nextId = 1;

function sharedModel(model: KnnModel): { id: number; model: KnnWorkerTask['model'] } {
  let entry = shared.get(model);
  if (!entry) {
    const data = new Float64Array(new SharedArrayBuffer(model.samples.data.byteLength));
    data.set(model.samples.data);
    entry = { id: nextId++, model: { ...model, samples: { rows: model.samples.rows, cols: model.samples.cols, data } } };
    shared.set(model, entry);
  }
  return entry;
}

let pool: Piscina | null = null;

/** Helpers kept between calls (idle ones end after a while and never hold the process open). */
function helpers(count: number): Piscina {
  if (!pool || pool.maxThreads < count) {
    void pool?.destroy();
    pool = new Piscina({ ...workerModule('./knn.worker', import.meta.url), minThreads: 0, maxThreads: count, idleTimeout: 30_000 });
  }
  return pool;
}

/**
 * evaluateKnn on `threads` threads (this one and helpers kept for the next call): the test
 * rows are split in contiguous parts, each row's votes computed as evaluateKnn computes
 * them alone, so the result is the same bits.
 */
export async function evaluateKnnThreads(model: KnnModel, X: Matrix, threads = availableParallelism()): Promise<Evaluation> {
  const parts = Math.max(1, Math.min(threads, Math.floor(X.rows / THREADS_FROM_ROWS)));
  if (parts === 1) return evaluateKnn(model, X);
  const { id, model: sharedSamples } = sharedModel(model);
  const bounds = Array.from({ length: parts + 1 }, (_, p) => Math.round((p * X.rows) / parts));
  const slice = (p: number): Matrix => ({ rows: bounds[p + 1]! - bounds[p]!, cols: X.cols, data: X.data.slice(bounds[p]! * X.cols, bounds[p + 1]! * X.cols) });
  const remote = Array.from({ length: parts - 1 }, (_, p) => {
    const x = slice(p + 1);
    return helpers(parts - 1).run({ id, model: sharedSamples, rows: x.rows, cols: x.cols, x: x.data } satisfies KnnWorkerTask) as Promise<{ predicted: Int32Array; scores: Float64Array }>;
  });
  const here = evaluateKnn(model, slice(0));
  const all = [{ predicted: here.predicted, scores: here.scores }, ...(await Promise.all(remote))];
  const k = model.nClasses;
  const predicted = new Int32Array(X.rows);
  const scores = new Float64Array(X.rows * k);
  all.forEach((part, p) => {
    predicted.set(part.predicted, bounds[p]!);
    scores.set(part.scores, bounds[p]! * k);
  });
  return { k, predicted, scores, probabilities: scores };
}
