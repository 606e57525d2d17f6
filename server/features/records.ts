import { readFile } from 'node:fs/promises';
import { MedclassError, errorMessage } from '../../shared/errors.ts';
import { extractFeatures, type Extraction } from '../../shared/features/extract.ts';
import type { GreyImage } from '../../shared/features/grey.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { decodeImage } from '../../shared/image/index.ts';

export interface FileJob {
  /** Where to read it. */
  path: string;
  /** How the output names it: relative to the folder given, or as given. */
  name: string;
}

/** One image in the golden files' format, as a JSON string. */
export function recordJson(name: string, e: Extraction): string {
  if (!e.ok) {
    return JSON.stringify({ file: name, width: e.width, height: e.height, error: e.error.message, errorCode: e.error.code });
  }
  const { hog, ...scalars } = e.values;
  const head = { file: name, width: e.width, height: e.height, resizedWidth: e.resizedWidth, resizedHeight: e.resizedHeight };
  const hogPart = hog ? `,"hog":[${hog.join(',')}]` : '';
  const scalarPart = JSON.stringify(scalars).slice(1, -1);
  return `${JSON.stringify(head).slice(0, -1)}${hogPart}${scalarPart ? `,${scalarPart}` : ''}}`;
}

/** A record ready to print, and whether it holds features. */
export interface RecordOut {
  json: string;
  ok: boolean;
}

export const recordOut = (name: string, e: Extraction): RecordOut => ({ json: recordJson(name, e), ok: e.ok });

/** Reads, decodes and extracts a list of files; a file that cannot be used gets its error. */
export async function extractFileRecords(jobs: readonly FileJob[], spec: FeatureSpec): Promise<RecordOut[]> {
  const images: (GreyImage | undefined)[] = [];
  const failures = new Map<number, Extraction>();
  await Promise.all(
    jobs.map(async (job, i) => {
      try {
        images[i] = decodeImage(new Uint8Array(await readFile(job.path)));
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
