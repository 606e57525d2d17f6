import type { FeatureSpec } from '../../shared/features/spec.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { useServerKernels } from '../features/server_kernels.ts';
import { extractVectors, type VectorJob, type VectorResult } from './vectors.ts';

useServerKernels();

/** A piscina task: a chunk of image files (or their bytes) in, their vectors and pixel hashes out. */
export default async function extractChunk({ jobs, spec, limits }: { jobs: VectorJob[]; spec: FeatureSpec; limits?: DecodeLimits }): Promise<VectorResult[]> {
  return extractVectors(jobs, spec, limits);
}
