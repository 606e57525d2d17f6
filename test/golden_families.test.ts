/**
 * The golden vectors of the families added after the seven (test/data/golden/families_*.json,
 * made by make_golden_families.py with scikit-image 0.19.3), on the exact path: the cpu and
 * wasm backends, within the tolerances of docs/features.md section 11, refusals word for word.
 */
import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../shared/features/extract.ts';
import { lbpOffsets } from '../shared/features/kernels/lbp_impl.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { EXACT_TOLERANCE } from '../shared/features/tolerance.ts';
import { decodeImage } from '../shared/image/index.ts';
import { useCpuBackend } from '../server/features/backend.ts';
import { useServerKernels } from '../server/features/server_kernels.ts';
import { GOLDEN_FAMILY_FILES, goldenImage, loadGolden } from './golden.ts';
import { extractionProblems, familyErrors } from './golden_compare.ts';

describe.each(['cpu', 'wasm', 'direct'] as const)('golden vectors of the new families on the %s backend', (backend) => {
  it.each(GOLDEN_FAMILY_FILES)(
    '%s',
    async (name) => {
      if (backend === 'direct') useServerKernels();
      else await useCpuBackend(backend);
      const golden = loadGolden(name);
      const spec = parseFeatureSpec(golden.spec);
      const results = await extractFeatures(golden.images.map((r) => decodeImage(goldenImage(r.file))), spec);
      const problems = golden.images.flatMap((record, i) => extractionProblems(results[i]!, record, EXACT_TOLERANCE));
      const worst: Record<string, string> = {};
      golden.images.forEach((record, i) => {
        const r = results[i]!;
        if (!r.ok) return;
        expect(r.values.hog ?? r.values.hogMean).toBeUndefined(); // only what the spec asks for
        for (const [f, e] of Object.entries(familyErrors(r.values, record))) {
          if (!(f in worst) || e > Number(worst[f]!.split(' ')[0])) worst[f] = `${e.toExponential(2)} (${record.file})`;
        }
      });
      const refused = golden.images.filter((r) => r.error).length;
      console.log(`[${backend}] ${name}: ${golden.images.length} records, ${refused} refusals; worst: ${JSON.stringify(worst)}`);
      expect(problems).toEqual([]);
    },
    120_000,
  );
});

describe('LBP sampling points', () => {
  it.each(GOLDEN_FAMILY_FILES)('%s: offsets rounded as scikit-image rounds them', (name) => {
    const golden = loadGolden(name);
    for (const [key, expected] of Object.entries(golden.lbpOffsets ?? {})) {
      const [points, radius] = key.split(',').map(Number) as [number, number];
      const { rows, cols } = lbpOffsets(points, radius);
      // +0 and -0 alike: the sign of a zero offset changes no sum
      expect(Array.from(rows, (v) => v + 0), key).toEqual(expected.rows.map((v) => v + 0));
      expect(Array.from(cols, (v) => v + 0), key).toEqual(expected.cols.map((v) => v + 0));
    }
  });
});
