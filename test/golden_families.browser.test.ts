/**
 * The golden vectors of the families added after the seven, in Chromium (the `browser`
 * vitest project), decoded by the project's own PNG decoder (never a canvas). On the cpu
 * backend everything is within the exact tolerances; on WebGL the second HOG runs on the GPU
 * (GPU tolerance) and the other families run the exact CPU functions, so they are held to the
 * exact bounds there too (docs/features.md section 11).
 */
import { engine, getBackend } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { initFeatureBackend, webglProblem } from '../client/features/backend.ts';
import { extractFeatures } from '../shared/features/extract.ts';
import { GLCM_ANGLES, HOG, LBP } from '../shared/features/kernels/names.ts';
import { runsOnActiveBackend } from '../shared/features/kernels/ops.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { EXACT_TOLERANCE, GPU_TOLERANCE, type Tolerance } from '../shared/features/tolerance.ts';
import type { GoldenFile } from './golden.ts';
import { GOLDEN, goldenImage } from './golden_images.browser.ts';
import { extractionProblems, familyErrors } from './golden_compare.ts';

/** GOLDEN_FAMILY_FILES of test/golden.ts, which reads them with node:fs and cannot load here. */
const FILES = [
  'families_s64', 'families_s0', 'families_s48_l8_b10', 'families_gabor_s48', 'families_gabor_s0', 'families_colour', 'families_colour_s0', 'families_min_size_hog2', 'families_min_size_lbp',
] as const;

const BACKENDS: [name: 'webgl' | 'cpu', tolerance: Tolerance][] = [
  ['webgl', GPU_TOLERANCE],
  ['cpu', EXACT_TOLERANCE],
];

describe.each(BACKENDS)('golden vectors of the new families in the browser on %s', (backend, tolerance) => {
  it.each(FILES)(
    '%s',
    async (name) => {
      // No skipping: without WebGL 2 (or float32 render targets) this fails.
      expect(await initFeatureBackend(backend), webglProblem() ?? undefined).toBe(backend);
      expect(getBackend()).toBe(backend);
      // the second HOG on the GPU, the rest on the CPU functions
      expect([runsOnActiveBackend(HOG), runsOnActiveBackend(LBP), runsOnActiveBackend(GLCM_ANGLES)]).toEqual([true, backend === 'cpu', backend === 'cpu']);
      const golden = { name, ...JSON.parse(await commands.readFile(`${GOLDEN}/${name}.json`)) } as GoldenFile;
      const spec = parseFeatureSpec(golden.spec);
      const images = await Promise.all(golden.images.map((r) => goldenImage(r.file)));
      const before = engine().backend.numDataIds();
      const start = performance.now();
      const results = await extractFeatures(images, spec);
      const ms = performance.now() - start;
      expect(engine().backend.numDataIds(), 'tensors left behind').toBe(before);
      const worst: Record<string, number> = {};
      golden.images.forEach((record, i) => {
        const r = results[i]!;
        if (r.ok) for (const [f, e] of Object.entries(familyErrors(r.values, record))) worst[f] = Math.max(worst[f] ?? 0, e);
      });
      console.log(`[${backend}] ${name}: ${golden.images.length} records in ${ms.toFixed(0)} ms; worst ${Object.entries(worst).map(([f, e]) => `${f} ${e.toExponential(2)}`).join(', ')}`);
      expect(golden.images.flatMap((record, i) => extractionProblems(results[i]!, record, tolerance))).toEqual([]);
    },
    180_000,
  );
});
