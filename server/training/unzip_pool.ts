import type { Piscina } from 'piscina';
import { ClassifyError, type ClassifyErrorCode } from '../../shared/classify/errors.ts';
import { workerModule } from '../features/worker_url.ts';
import type { UnzipResult } from './zip.worker.ts';
import { ZipError, type ZipDataset, type ZipErrorCode, type ZipLimits } from './zip_dataset.ts';

/**
 * Dataset ZIPs inflated on a worker thread: a 263 KB ZIP may inflate to hundreds of MiB,
 * which would stall the event loop (every user's classification) for seconds. The ZIP is
 * moved to the thread and the images moved back, one buffer each way, never copied.
 * The thread starts on the first upload and ends after a minute unused.
 */
export class UnzipPool {
  private pool: Piscina | null = null;
  /** Tasks run, for tests: the inflation happened on the worker, not here. */
  runs = 0;

  private async started(): Promise<Piscina> {
    if (!this.pool) {
      const { Piscina } = await import('piscina');
      this.pool ??= new Piscina({ ...workerModule('./zip.worker', import.meta.url), minThreads: 0, maxThreads: 1, idleTimeout: 60_000 });
    }
    return this.pool;
  }

  /**
   * Reads a dataset ZIP, given as the blocks it came in, on the worker. The blocks are moved
   * there (unusable here afterwards): each must be a whole buffer of its own.
   */
  async read(blocks: Uint8Array[], limits: ZipLimits): Promise<ZipDataset> {
    const pool = await this.started();
    this.runs++;
    const result = (await pool.run({ blocks, limits }, { transferList: blocks.map((b) => b.buffer as ArrayBuffer) })) as UnzipResult;
    if (result.ok) return result.dataset;
    if (result.kind === 'zip') throw new ZipError(result.code as ZipErrorCode, result.message);
    throw new ClassifyError(result.code as ClassifyErrorCode, result.message);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }
}
