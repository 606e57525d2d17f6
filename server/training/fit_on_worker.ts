import { ClassifyError } from '../../shared/classify/errors.ts';
import type { Stage } from '../../shared/classify/train.ts';
import { workerModule } from '../features/worker_url.ts';
import type { EpochHook, FitInput, FitOutput } from './fit.ts';
import type { FitProgress, FitTaskResult } from './fit.worker.ts';

export const aborted = (): Error => new Error('training was stopped');

/** The fit on a worker thread of its own: the SMO solver is synchronous and may run for minutes. */
export async function fitOnWorker(input: FitInput, progress: (stage: Stage, done: number, total: number) => void, signal?: AbortSignal, onEpoch?: EpochHook): Promise<FitOutput> {
  const [{ Piscina }, { MessageChannel }] = await Promise.all([import('piscina'), import('node:worker_threads')]);
  const { filename, execArgv } = workerModule('./fit.worker', import.meta.url);
  const pool = new Piscina({ filename, execArgv, minThreads: 1, maxThreads: 1, idleTimeout: 0 });
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (m: FitProgress) => {
    if (m.epoch) onEpoch?.(m.epoch);
    else progress(m.stage, m.done, m.total);
  });
  const buffers = [input.train, input.val, input.test].flatMap((s) => (s ? [s.X.data.buffer as ArrayBuffer] : []));
  try {
    const result = (await pool.run({ input, port: port2 }, { transferList: [port2, ...buffers], ...(signal ? { signal } : {}) })) as FitTaskResult;
    if (!result.ok) throw new ClassifyError(result.code, result.message);
    await new Promise((r) => setImmediate(r)); // the last progress messages, before the port closes
    return result.output;
  } catch (e) {
    if (signal?.aborted) throw aborted();
    throw e;
  } finally {
    port1.close();
    await pool.destroy();
  }
}

