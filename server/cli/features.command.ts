import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { csvField, csvHeader, OUTPUT_FORMATS, type OutputFormat, type RecordsOut } from '../features/output_formats.ts';
import { collectFiles, type ImageFile } from '../files/image_files.ts';
import { workerModule } from '../features/worker_url.ts';
import { specInput, type SpecOptions } from '../features/spec_input.ts';
import { CliError } from './cli_error.ts';

/** Most files per worker task: big enough that messaging costs little, small enough to balance. */
const CHUNK = 48;
/** Fewest files per task, those at the end: the threads run out of work within a few images of each other. */
const LAST_CHUNK = 8;
/** Below this many files, starting workers (tens of milliseconds each) costs more than it saves. */
const WORKERS_FROM = 16;

type Extract = (jobs: ImageFile[], spec: FeatureSpec, format: OutputFormat) => Promise<RecordsOut>;

/** Worker threads beside this one, and how to hand them a chunk. */
interface Pool {
  workers: number;
  extract: Extract;
  close: () => Promise<void>;
}

/**
 * Chunks each worker holds: the one it runs and the next ones, so that it goes on without
 * waiting for this thread, which hands out chunks between its own (about 20 ms each; the
 * first, on cold code, several times that).
 */
const QUEUED = 3;

/**
 * The worker threads, one fewer than the threads, since this thread extracts too (a worker
 * costs about 80 ms of CPU to start, which the other threads wait for on a small machine);
 * started before the files are listed (their start-up overlaps the listing) where the paths
 * promise enough files; none for one thread.
 */
async function startPool(paths: readonly string[], threads: number): Promise<Pool | undefined> {
  const many = paths.length >= WORKERS_FROM || paths.some((p) => statSync(p, { throwIfNoEntry: false })?.isDirectory());
  if (threads < 2 || !many) return undefined;
  const { Piscina } = await import('piscina');
  const workers = threads - 1;
  const pool = new Piscina({ ...workerModule('../features/extract.worker', import.meta.url), minThreads: workers, maxThreads: workers, concurrentTasksPerWorker: QUEUED });
  return { workers, extract: (jobs, spec, format) => pool.run({ jobs, spec, format }) as Promise<RecordsOut>, close: () => pool.destroy() };
}

/** Extraction on this thread: the kernels load on the first call, once the workers have their first chunks. */
async function extractHere(): Promise<Extract> {
  const [{ useServerKernels }, { extractFileRecords }] = await Promise.all([import('../features/server_kernels.ts'), import('../features/records.ts')]);
  useServerKernels();
  return extractFileRecords;
}

/** A promise with its resolve and reject (Promise.withResolvers, from Node 22). */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Extracts in chunks (a file not found gets its error record there too), on the workers and
 * on this thread, each taking the next chunk when it is ready for one; yields them in input order.
 */
async function* records(inputs: readonly ImageFile[], spec: FeatureSpec, format: OutputFormat, pending: Promise<Pool | undefined>): AsyncGenerator<RecordsOut> {
  const pool = await pending;
  const threads = (pool?.workers ?? 0) + 1;
  const chunks: ImageFile[][] = [];
  for (let i = 0; i < inputs.length; ) {
    const size = chunkSize(inputs.length - i, inputs.length, threads);
    chunks.push(inputs.slice(i, i + size));
    i += size;
  }
  const done = chunks.map(() => deferred<RecordsOut>());
  let next = 0;
  let stopped = false;
  const feed = (): void => {
    if (stopped || next >= chunks.length) return;
    const i = next++;
    pool!.extract(chunks[i]!, spec, format).then(
      (r) => {
        done[i]!.resolve(r);
        feed();
      },
      (e: unknown) => done[i]!.reject(e),
    );
  };
  if (pool) for (let k = 0; k < pool.workers * QUEUED; k++) feed();
  const here = (async () => {
    try {
      const extract = await extractHere();
      while (!stopped && next < chunks.length) {
        const i = next++;
        await extract(chunks[i]!, spec, format).then(done[i]!.resolve, done[i]!.reject);
        // the workers' results come in, and they get their next chunks, between this thread's
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      // no chunk is left waiting for this thread
      while (next < chunks.length) done[next++]!.reject(e);
    }
  })();
  try {
    for (const d of done) yield await d.promise;
  } finally {
    // on an early exit the chunks still queued end with the pool, not as unhandled rejections
    stopped = true;
    for (const d of done) d.promise.catch(() => {});
    await here;
    await pool?.close();
  }
}

/**
 * The next chunk's size with `left` of `total` files to go: at most CHUNK, and a share of
 * the total (so that a few files spread over every thread), shrinking towards the end down
 * to LAST_CHUNK, so that no thread is left with a whole chunk to do while the others wait.
 */
function chunkSize(left: number, total: number, threads: number): number {
  const share = Math.ceil(total / threads);
  const tail = Math.max(LAST_CHUNK, Math.ceil(left / (4 * threads)));
  return Math.max(1, Math.min(CHUNK, share, tail, left));
}

async function write(out: Writable, data: string | Uint8Array): Promise<void> {
  if (!out.write(data)) await once(out, 'drain');
}

/** Several pieces as one write (a file stream writes corked pieces with one writev). */
async function writeParts(out: Writable, parts: readonly (string | Uint8Array)[]): Promise<void> {
  out.cork();
  let room = true;
  for (const part of parts) room = out.write(part);
  out.uncork();
  if (!room) await once(out, 'drain');
}

/** The header of a version 1.0 .npy file of float64 rows, padded to 64 bytes as numpy writes it. */
function npyHeader(rows: number, columns: number): Uint8Array {
  let dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
  dict += ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const header = new Uint8Array(10 + dict.length);
  header.set([0x93, ...Buffer.from('NUMPY'), 1, 0, dict.length & 0xff, dict.length >> 8]);
  header.set(Buffer.from(dict, 'latin1'), 10);
  return header;
}

interface FeaturesOptions extends SpecOptions {
  out?: string;
  jobs?: string;
  format?: string;
}

export async function featuresCommand(paths: string[], options: FeaturesOptions): Promise<void> {
  const format = (options.format ?? 'json') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new CliError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, not ${JSON.stringify(options.format)}`);
  if (format === 'npy' && !options.out) throw new CliError('--format npy writes a binary file: name it with --out');
  const threads = Math.max(1, Math.floor(Number(options.jobs ?? availableParallelism())) || 1);
  // The workers start first: the spec's schema (zod, about a hundred modules) loads and the
  // files are listed (its reads overlapping that loading) while they load theirs; the main
  // thread is then what the workers wait for. A refusal on the way must not leave them running.
  const pending = startPool(paths, threads);
  const refused = async (e: unknown): Promise<never> => {
    await (await pending)?.close();
    throw e;
  };
  const listing = collectFiles(paths);
  listing.catch(() => {}); // awaited below, unless the spec is refused first
  const spec = await import('../../shared/features/spec.schema.ts').then(({ parseFeatureSpec }) => parseFeatureSpec(specInput(options))).catch(refused);
  const inputs = await listing.catch(refused);
  const out: Writable = options.out ? createWriteStream(options.out) : process.stdout;
  let ok = 0;
  const lines = { json: writeJson, jsonl: writeLines, csv: writeLines, npy: writeNpy }[format];
  await lines(out, spec, format, inputs.length, records(inputs, spec, format, pending), () => ok++);
  if (options.out) {
    out.end();
    await once(out, 'finish');
  }
  if (ok === 0) {
    process.stderr.write(`medclass: no image could be read (${inputs.length} given)\n`);
    process.exitCode = 1;
  }
}

type Chunks = AsyncGenerator<RecordsOut>;

async function writeJson(out: Writable, spec: FeatureSpec, _format: OutputFormat, _count: number, chunks: Chunks, counted: () => void): Promise<void> {
  let separator = '\n';
  await write(out, `{"spec":${JSON.stringify(spec)},"images":[`);
  // One write per chunk, its records already text: a write per record would wait on the file for each.
  for await (const chunk of chunks) {
    for (const record of chunk.records) if (record.ok) counted();
    if (!chunk.records.length) continue;
    await writeParts(out, [separator, chunk.text]);
    separator = ',\n';
  }
  await write(out, '\n]}\n');
}

/**
 * JSON Lines (one record a line) or CSV. A CSV's columns follow the first image with
 * features; with `--size 0` an image of another size has another vector length, and its row
 * says so instead. Rows before the first image with features wait for the header.
 */
async function writeLines(out: Writable, spec: FeatureSpec, format: OutputFormat, _count: number, chunks: Chunks, counted: () => void): Promise<void> {
  let size: [number, number] | undefined;
  const held: Uint8Array[] = [];
  for await (const chunk of chunks) {
    const parts: (string | Uint8Array)[] = [];
    // rows from `from` on go out as they are, in one piece with their neighbours
    let from = 0;
    const take = (to: number) => {
      if (to > from) (format === 'csv' && !size ? held : parts).push(chunk.text.subarray(from, to));
      from = to;
    };
    chunk.records.forEach((record, i) => {
      const start = i ? chunk.ends[i - 1]! : 0;
      if (format === 'csv' && record.size) {
        if (!size) {
          take(start);
          size = record.size;
          parts.push(`${csvHeader(spec, size[0], size[1])}\n`, ...held.splice(0));
        } else if (record.size[0] !== size[0] || record.size[1] !== size[1]) {
          take(start);
          from = chunk.ends[i]!;
          parts.push(`${csvField(record.name!)},,,${record.size[1]},${record.size[0]},"resized to ${record.size[1]}x${record.size[0]}, not ${size[1]}x${size[0]} as the rows above: its vector has other columns (--size gives every image one size)"\n`);
          return;
        }
      }
      if (record.ok) counted();
    });
    take(chunk.text.length);
    if (parts.length) await writeParts(out, parts);
  }
  if (format === 'csv' && !size) await writeParts(out, [`${csvHeader(spec, 0, 0)}\n`, ...held]);
}

/**
 * A float64 matrix, one row per image in the listing's order, in the feature vector's
 * layout; a row of NaN for an image without features (named on standard error).
 */
async function writeNpy(out: Writable, _spec: FeatureSpec, _format: OutputFormat, count: number, chunks: Chunks, counted: () => void): Promise<void> {
  const rows: (Float64Array | undefined)[] = [];
  let columns = -1;
  for await (const chunk of chunks) {
    for (const record of chunk.records) {
      if (record.vector && columns < 0) columns = record.vector.length;
      if (record.vector && record.vector.length !== columns) {
        process.stderr.write(`medclass: ${record.name!}: its vector has ${record.vector.length} values, not ${columns} as the rows above (--size gives every image one size): a row of NaN\n`);
        rows.push(undefined);
        continue;
      }
      if (record.error) process.stderr.write(`medclass: ${record.error} (a row of NaN)\n`);
      if (record.ok) counted();
      rows.push(record.vector);
    }
  }
  columns = Math.max(columns, 0);
  await write(out, npyHeader(count, columns));
  const nan = new Float64Array(columns).fill(NaN);
  // little-endian float64, as every machine Node runs on stores it
  for (let i = 0; i < rows.length; i += 256) {
    const block = new Float64Array(Math.min(256, rows.length - i) * columns);
    for (let r = 0; r < block.length / columns; r++) block.set(rows[i + r] ?? nan, r * columns);
    await write(out, new Uint8Array(block.buffer));
  }
}
