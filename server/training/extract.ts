import { availableParallelism } from 'node:os';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { workerModule } from '../features/worker_url.ts';
import type { VectorJob, VectorResult } from './vectors.ts';

/** Files per worker task: big enough that messaging costs little, small enough to balance. */
const CHUNK = 48;

export interface ExtractOptions {
  /** Worker threads; one per core by default, 1 extracts in this thread. */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  /** Worker threads even for one chunk (a server never extracts on its event loop). */
  alwaysWorkers?: boolean;
  /** Decoding limits (encoded size, pixel count); the decoder's defaults otherwise. */
  limits?: DecodeLimits;
}

/** Vectors of many files, in parallel where it pays; results in input order. */
export async function extractFiles(jobs: readonly VectorJob[], spec: FeatureSpec, options: ExtractOptions = {}): Promise<VectorResult[]> {
  const threads = Math.max(1, options.threads ?? availableParallelism());
  // On workers anyway, small sets are split so that every thread gets a share.
  const size = options.alwaysWorkers ? Math.max(1, Math.min(CHUNK, Math.ceil(jobs.length / threads))) : CHUNK;
  const chunks: VectorJob[][] = [];
  for (let i = 0; i < jobs.length; i += size) chunks.push(jobs.slice(i, i + size));
  let done = 0;
  options.onProgress?.(0, jobs.length);
  const step = (r: VectorResult[]) => {
    done += r.length;
    options.onProgress?.(done, jobs.length);
    return r;
  };
  if (!options.alwaysWorkers && (threads === 1 || chunks.length <= 1)) {
    const [{ useServerKernels }, { extractVectors }] = await Promise.all([import('../features/server_kernels.ts'), import('./vectors.ts')]);
    useServerKernels();
    const out: VectorResult[] = [];
    for (const chunk of chunks) out.push(...step(await extractVectors(chunk, spec, options.limits)));
    return out;
  }
  const { Piscina } = await import('piscina');
  const { filename, execArgv } = workerModule('./vectors.worker', import.meta.url);
  const n = Math.max(1, Math.min(threads, chunks.length));
  const pool = new Piscina({ filename, execArgv, minThreads: n, maxThreads: n });
  try {
    const results = await Promise.all(chunks.map(async (chunk) => step((await pool.run({ jobs: chunk, spec, limits: options.limits })) as VectorResult[])));
    return results.flat();
  } finally {
    await pool.destroy();
  }
}
