import { closeSync, openSync, readSync } from 'node:fs';
import { MedclassError, errorMessage } from '../../shared/errors.ts';
import { extractFeatures, type Extraction } from '../../shared/features/extract.ts';
import type { ImageFile } from '../files/image_files.ts';
import type { OutputFormat, RecordsOut } from './output_formats.ts';
import { recordsOut } from './record_formats.ts';
import type { GreyImage } from '../../shared/image/grey.ts';
import { wantsColour, type FeatureSpec } from '../../shared/features/spec.ts';
import { DEFAULT_DECODE_LIMITS, decodeImageAsync, type DecodeLimits } from '../../shared/image/lazy.ts';
import { decodeImage, findDecoder } from '../../shared/image/decoder.ts';
import { GreyArena } from '../../shared/image/grey_arena.ts';
import { pngDecoder } from '../../shared/image/png.ts';

/** Files up to this size are read into one buffer kept by the thread; a larger one gets its own, let go after. */
const KEPT_BUFFER = 4 << 20;
let fileBuffer = new Uint8Array(64 << 10);

/**
 * A file's bytes, in this thread's file buffer (valid until the next read): a fresh buffer
 * per file, as readFileSync gives, cost about as much in page faults and garbage collection
 * as the read itself on thousands of small images. Synchronous: this runs on a worker
 * thread (or alone in the command), and a small file costs fs/promises five system calls
 * and as many promise turns, several times the read.
 */
function readFile(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    let buffer = fileBuffer;
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const larger = new Uint8Array(buffer.length * 2);
        larger.set(buffer);
        buffer = larger;
        if (buffer.length <= KEPT_BUFFER) fileBuffer = buffer;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) return buffer.subarray(0, length);
      length += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads, decodes and extracts a list of files, formatted for the output; a file that cannot be used (or was not found) gets its error. */
export async function extractFileRecords(jobs: readonly ImageFile[], spec: FeatureSpec, format: OutputFormat): Promise<RecordsOut> {
  const images: (GreyImage | undefined)[] = [];
  const failures = new Map<number, Extraction>();
  const limits: DecodeLimits = wantsColour(spec) ? DEFAULT_DECODE_LIMITS : { ...DEFAULT_DECODE_LIMITS, greyOnly: true };
  // the chunk's PNGs share a few kept buffers until their features are out
  const arena = new GreyArena();
  try {
    for (const [i, job] of jobs.entries()) {
      if (job.missing) {
        failures.set(i, { ok: false, error: new MedclassError('unreadableFile', job.missing) });
        continue;
      }
      try {
        const bytes = readFile(job.path);
        // A PNG is decoded at once, before anything else can read into the buffer, and its
        // decoder keeps nothing of it. The other decoders may wait for a codec to load, while
        // the thread goes on with another chunk (a worker holds several) and reads its files
        // into the buffer: they get a copy.
        images[i] = findDecoder(bytes) === pngDecoder ? decodeImage(bytes, limits, arena) : await decodeImageAsync(bytes.slice(), limits);
      } catch (e) {
        const error = e instanceof MedclassError ? e : new MedclassError('unreadableFile', `cannot read ${job.name}: ${errorMessage(e)}`);
        failures.set(i, { ok: false, error });
      }
    }
    const readable = images.flatMap((img, i) => (img ? [{ img, i }] : []));
    const extracted = await extractFeatures(
      readable.map((r) => r.img),
      spec,
    );
    readable.forEach((r, k) => failures.set(r.i, extracted[k]!));
  } finally {
    arena.release();
  }
  return recordsOut(
    jobs.map((job, i) => ({ name: job.name, e: failures.get(i)! })),
    spec,
    format,
  );
}
