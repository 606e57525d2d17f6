import { readFileSync } from 'node:fs';
import { MedclassError, errorMessage } from '../../shared/errors.ts';
import { extractFeatures, type Extraction } from '../../shared/features/extract.ts';
import type { ImageFile } from '../files/image_files.ts';
import type { OutputFormat, RecordsOut } from './output_formats.ts';
import { recordsOut } from './record_formats.ts';
import type { GreyImage } from '../../shared/image/grey.ts';
import { wantsColour, type FeatureSpec } from '../../shared/features/spec.ts';
import { DEFAULT_DECODE_LIMITS, decodeImageAsync, type DecodeLimits } from '../../shared/image/lazy.ts';

/** Reads, decodes and extracts a list of files, formatted for the output; a file that cannot be used (or was not found) gets its error. */
export async function extractFileRecords(jobs: readonly ImageFile[], spec: FeatureSpec, format: OutputFormat): Promise<RecordsOut> {
  const images: (GreyImage | undefined)[] = [];
  const failures = new Map<number, Extraction>();
  const limits: DecodeLimits = wantsColour(spec) ? DEFAULT_DECODE_LIMITS : { ...DEFAULT_DECODE_LIMITS, greyOnly: true };
  // Read synchronously: this runs on a worker thread (or alone in the command), and a small
  // file costs fs/promises five system calls and as many promise turns, several times the read.
  await Promise.all(
    jobs.map(async (job, i) => {
      if (job.missing) return void failures.set(i, { ok: false, error: new MedclassError('unreadableFile', job.missing) });
      try {
        // a copy: a Buffer's slice is a view, and decoders expect Uint8Array's
        images[i] = await decodeImageAsync(new Uint8Array(readFileSync(job.path)), limits);
      } catch (e) {
        const error = e instanceof MedclassError ? e : new MedclassError('unreadableFile', `cannot read ${job.name}: ${errorMessage(e)}`);
        failures.set(i, { ok: false, error });
      }
    }),
  );
  const readable = images.flatMap((img, i) => (img ? [{ img, i }] : []));
  const extracted = await extractFeatures(
    readable.map((r) => r.img),
    spec,
  );
  readable.forEach((r, k) => failures.set(r.i, extracted[k]!));
  return recordsOut(
    jobs.map((job, i) => ({ name: job.name, e: failures.get(i)! })),
    spec,
    format,
  );
}
