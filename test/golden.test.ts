import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../shared/features/extract.ts';
import { quantise } from '../shared/features/kernels/glcm_impl.ts';
import { resizeBilinear } from '../shared/features/resize.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { EXACT_TOLERANCE } from '../shared/features/tolerance.ts';
import { decodeImage } from '../shared/image/index.ts';
import { useCpuBackend } from '../server/features/backend.ts';
import { GOLDEN_FILES, goldenImage, loadGolden } from './golden.ts';
import { compareToGolden } from './golden_compare.ts';

describe.each(['cpu', 'wasm'] as const)('golden vectors on the %s backend (exact path)', (backend) => {
  it.each(GOLDEN_FILES)('%s', async (name) => {
    await useCpuBackend(backend);
    const golden = loadGolden(name);
    const { size, levels, orientations, pixelsPerCell, cellsPerBlock } = golden.spec;
    const spec = parseFeatureSpec({ size, levels, orientations, pixelsPerCell, cellsPerBlock });
    const results = await extractFeatures(golden.images.map((r) => decodeImage(goldenImage(r.file))), spec);
    const problems: string[] = [];
    golden.images.forEach((record, i) => {
      const result = results[i]!;
      if (record.error) {
        if (result.ok) problems.push(`${record.file}: accepted, expected refusal`);
        else {
          expect(result.error.code).toBe(record.errorCode);
          expect(result.error.message).toBe(record.error);
        }
        return;
      }
      if (!result.ok) return problems.push(`${record.file}: refused: ${result.error.message}`);
      expect([result.width, result.height, result.resizedWidth, result.resizedHeight]).toEqual([
        record.width,
        record.height,
        record.resizedWidth,
        record.resizedHeight,
      ]);
      problems.push(...compareToGolden(result.values, record, EXACT_TOLERANCE));
    });
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
