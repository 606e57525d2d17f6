import type { FeatureSpec } from '../../shared/features/spec.ts';
import { useCpuBackend } from '../features/backend.ts';
import { extractVectors, type VectorJob, type VectorResult } from './vectors.ts';

const ready = useCpuBackend();

/** A piscina task: a chunk of image files in, their vectors and pixel hashes out. */
export default async function extractChunk({ jobs, spec }: { jobs: VectorJob[]; spec: FeatureSpec }): Promise<VectorResult[]> {
  await ready;
  return extractVectors(jobs, spec);
}
