import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import { MedclassError } from '../../shared/errors.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { recordOut, type RecordOut } from '../features/record_json.ts';
import { collectFiles, type FileJob, type ImageFile } from '../files/image_files.ts';
import { workerModule } from '../features/worker_url.ts';
import { specInput, type SpecOptions } from '../features/spec_input.ts';

/** Most files per worker task: big enough that messaging costs little, small enough to balance. */
const CHUNK = 48;
/** Below this many files, starting workers (about 0.2 s each) costs more than it saves. */
const WORKERS_FROM = 16;

/** Extracts in chunks, on worker threads when there is more than one chunk and core; yields chunks in input order. */
async function* records(inputs: readonly ImageFile[], spec: FeatureSpec, threads: number): AsyncGenerator<RecordOut[]> {
  // The extraction modules (tfjs among them) load only where they run: here, or in the workers.
  let extract: (jobs: FileJob[]) => Promise<RecordOut[]>;
  let close = async () => {};
  const parallel = threads > 1 && inputs.length >= WORKERS_FROM;
  const chunk = parallel ? Math.min(CHUNK, Math.ceil(inputs.length / threads)) : CHUNK;
  if (parallel) {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ ...workerModule('../features/extract.worker', import.meta.url), minThreads: threads, maxThreads: threads });
    extract = (jobs) => pool.run({ jobs, spec }) as Promise<RecordOut[]>;
    close = () => pool.destroy();
  } else {
    const [{ useCpuBackend }, { extractFileRecords }] = await Promise.all([import('../features/backend.ts'), import('../features/records.ts')]);
    await useCpuBackend();
    extract = (jobs) => extractFileRecords(jobs, spec);
  }
  const run = async (chunk: ImageFile[]): Promise<RecordOut[]> => {
    const done = await extract(chunk.filter((j) => !j.missing));
    let k = 0;
    return chunk.map((j) => (j.missing ? recordOut(j.name, { ok: false, error: new MedclassError('unreadableFile', j.missing) }) : done[k++]!));
  };
  // Every chunk is queued at once; the pool keeps both cores busy while output keeps the order.
  const pending: Promise<RecordOut[]>[] = [];
  for (let i = 0; i < inputs.length; i += chunk) pending.push(run(inputs.slice(i, i + chunk)));
  try {
    for (const p of pending) yield await p;
  } finally {
    // on an early exit the chunks still queued end with the pool, not as unhandled rejections
    for (const p of pending) p.catch(() => {});
    await close();
  }
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

interface FeaturesOptions extends SpecOptions {
  out?: string;
  jobs?: string;
}

export async function featuresCommand(paths: string[], options: FeaturesOptions): Promise<void> {
  const spec = parseFeatureSpec(specInput(options));
  const inputs = await collectFiles(paths);
  const threads = Math.max(1, Math.floor(Number(options.jobs ?? availableParallelism())) || 1);
  const out: Writable = options.out ? createWriteStream(options.out) : process.stdout;
  let ok = 0;
  let separator = '\n';
  await write(out, `{"spec":${JSON.stringify(spec)},"images":[`);
  // One write per chunk: a write per record would wait on the file for each of them.
  for await (const chunk of records(inputs, spec, threads)) {
    let text = '';
    for (const record of chunk) {
      if (record.ok) ok++;
      text += separator + record.json;
      separator = ',\n';
    }
    await write(out, text);
  }
  await write(out, '\n]}\n');
  if (options.out) {
    out.end();
    await once(out, 'finish');
  }
  if (ok === 0) {
    process.stderr.write(`medclass: no image could be read (${inputs.length} given)\n`);
    process.exitCode = 1;
  }
}
