import { readFile } from 'node:fs/promises';
import { MedclassError, errorMessage } from '../../shared/errors.ts';
import { extractFeatures, type Extraction } from '../../shared/features/extract.ts';
import type { FileJob } from '../files/image_files.ts';
import { recordOut, type RecordOut } from './record_json.ts';
import type { GreyImage } from '../../shared/image/grey.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { decodeImageAsync } from '../../shared/image/index.ts';

/** Reads, decodes and extracts a list of files; a file that cannot be used gets its error. */
export async function extractFileRecords(jobs: readonly FileJob[], spec: FeatureSpec): Promise<RecordOut[]> {
  const images: (GreyImage | undefined)[] = [];
  const failures = new Map<number, Extraction>();
  await Promise.all(
    jobs.map(async (job, i) => {
      try {
        images[i] = await decodeImageAsync(new Uint8Array(await readFile(job.path)));
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
  return jobs.map((job, i) => recordOut(job.name, failures.get(i)!));
}
