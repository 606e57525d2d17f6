import type { FeatureSpec } from '../../shared/features/spec.ts';
import { useServerKernels } from './server_kernels.ts';
import type { ImageFile } from '../files/image_files.ts';
import type { OutputFormat, RecordsOut } from './output_formats.ts';
import { extractFileRecords } from './records.ts';

useServerKernels();

/** A piscina task: a chunk of files in, their records out as text (formatted here, in parallel). */
export default async function extractChunk({ jobs, spec, format }: { jobs: ImageFile[]; spec: FeatureSpec; format: OutputFormat }): Promise<RecordsOut> {
  return extractFileRecords(jobs, spec, format);
}
