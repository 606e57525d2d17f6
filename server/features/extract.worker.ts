import type { FeatureSpec } from '../../shared/features/spec.ts';
import { useCpuBackend } from './backend.ts';
import type { FileJob } from '../files/image_files.ts';
import type { RecordOut } from './record_json.ts';
import { extractFileRecords } from './records.ts';

const ready = useCpuBackend();

/** A piscina task: a chunk of files in, one JSON record per file out (formatted here, in parallel). */
export default async function extractChunk({ jobs, spec }: { jobs: FileJob[]; spec: FeatureSpec }): Promise<RecordOut[]> {
  await ready;
  return extractFileRecords(jobs, spec);
}
