import type { FeatureSpec } from '../../shared/features/spec.ts';
import { useServerKernels } from './server_kernels.ts';
import type { FileJob } from '../files/image_files.ts';
import type { OutputFormat, RecordOut } from './record_formats.ts';
import { extractFileRecords } from './records.ts';

useServerKernels();

/** A piscina task: a chunk of files in, one JSON record per file out (formatted here, in parallel). */
export default async function extractChunk({ jobs, spec, format }: { jobs: FileJob[]; spec: FeatureSpec; format: OutputFormat }): Promise<RecordOut[]> {
  return extractFileRecords(jobs, spec, format);
}
