import { availableParallelism } from 'node:os';
import type { GroupResult, GroupRunner, GroupTask } from '../../shared/classify/cnn/train_cnn.ts';
import { workerModule } from './worker_url.ts';

function groupWorker(): { filename: string; execArgv: string[] | undefined } {
  try {
    return workerModule('./cnn_group.worker', import.meta.url);
  } catch {
    // in the fit's worker, which tsx loads as CommonJS, import.meta has no resolve: that
    // thread's own options, which this one inherits, already carry tsx's loader
    return { filename: new URL('./cnn_group.worker.ts', import.meta.url).href, execArgv: undefined };
  }
}

export interface CnnGroupThreads extends GroupRunner {
  close(): Promise<void>;
}

/**
 * A worker thread that computes the second group of each CNN training batch while the caller's
 * thread computes the first (trainCnn's `groups`, `hooks.groupRunner`): the convolutions run
 * on one core per thread, so two cores train about twice as fast. The result is the same model
 * as without it (the same kernels on the same backend, summed in group order). Null on one core.
 */
export async function cnnGroupThreads(cores = availableParallelism()): Promise<CnnGroupThreads | null> {
  if (cores < 2) return null;
  const { Piscina } = await import('piscina');
  const { filename, execArgv } = groupWorker();
  const pool = new Piscina({ filename, execArgv, minThreads: 1, maxThreads: 1, idleTimeout: 0 });
  return {
    run: (task: GroupTask) => pool.run(task) as Promise<GroupResult>,
    close: () => pool.destroy(),
  };
}
