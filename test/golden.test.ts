import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../shared/features/extract.ts';
import { quantise } from '../shared/features/kernels/glcm_impl.ts';
import { resizeBilinear } from '../shared/features/resize.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { EXACT_TOLERANCE } from '../shared/features/tolerance.ts';
import { decodeImage } from '../shared/image/index.ts';
import { useCpuBackend } from '../server/features/backend.ts';
import { useServerKernels } from '../server/features/server_kernels.ts';
import { GOLDEN_FILES, goldenImage, loadGolden } from './golden.ts';
import { extractionProblems } from './golden_compare.ts';

describe.each(['cpu', 'wasm', 'direct'] as const)('golden vectors on the %s backend (exact path)', (backend) => {
  it.each(GOLDEN_FILES)('%s', async (name) => {
    if (backend === 'direct') useServerKernels();
    else await useCpuBackend(backend);
    const golden = loadGolden(name);
    const { size, levels, orientations, pixelsPerCell, cellsPerBlock } = golden.spec;
    const spec = parseFeatureSpec({ size, levels, orientations, pixelsPerCell, cellsPerBlock });
    const results = await extractFeatures(golden.images.map((r) => decodeImage(goldenImage(r.file))), spec);
    const problems = golden.images.flatMap((record, i) => extractionProblems(results[i]!, record, EXACT_TOLERANCE));
    expect(problems).toEqual([]);
  });
});

describe('decoding, grey, resize and quantisation, bit for bit', () => {
  const golden = loadGolden('s64_l32_pixels');
  it.each(golden.images.filter((r) => r.resized).map((r) => [r.file, r] as const))('%s', (_file, record) => {
    const image = decodeImage(goldenImage(record.file));
    const resized = resizeBilinear(image, golden.spec.size);
    expect(Array.from(resized)).toEqual(record.resized);
    const q = quantise(resized, 0, resized.length, golden.spec.levels, new Uint16Array(resized.length));
    expect(Array.from(q)).toEqual(record.quantised);
  });
});
