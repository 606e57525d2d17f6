/**
 * The golden vectors of test/data/golden in the browser (the `browser` vitest project):
 * on the WebGL kernels within the GPU tolerance, and on the exact CPU-side kernels within
 * the exact one. Files are read through vitest's browser commands (relative to the repo
 * root) and decoded by the project's own PNG decoder, never a canvas (docs/features.md).
 */
import { engine, getBackend, tensor3d } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { initFeatureBackend, webglProblem } from '../client/features/backend.ts';
import { glcmWebglLimits } from '../client/features/webgl/glcm_webgl.ts';
import { extractFeatures } from '../shared/features/extract.ts';
import { glcmImpl } from '../shared/features/kernels/glcm_impl.ts';
import { glcm } from '../shared/features/kernels/ops.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { SCALAR_FEATURES } from '../shared/features/spec.ts';
import { EXACT_TOLERANCE, GPU_TOLERANCE, relativeL2, scalarError, type Tolerance } from '../shared/features/tolerance.ts';
import type { GoldenFile } from './golden.ts';
import { GOLDEN, goldenImage } from './golden_images.browser.ts';
import { extractionProblems } from './golden_compare.ts';

/** GOLDEN_FILES of test/golden.ts, which reads them with node:fs and cannot load here. */
const GOLDEN_FILES = [
  's0_l32', 's0_l8', 's0_l256', 's0_min_size', 's48_l32', 's64_l32', 's64_l8', 's64_l256',
  's64_l32_o12_p6_b3', 's64_l32_pixels', 's100_l32', 's128_l32', 's128_l8', 's128_l256',
] as const;

async function loadGolden(name: string): Promise<GoldenFile> {
  return { name, ...JSON.parse(await commands.readFile(`${GOLDEN}/${name}.json`)) } as GoldenFile;
}

/** Data ids the active backend holds: equal before and after an extraction when nothing leaks. */
const backendDataIds = (): number => engine().backend.numDataIds();

const BACKENDS: [name: 'webgl' | 'cpu', tolerance: Tolerance][] = [
  ['webgl', GPU_TOLERANCE],
  ['cpu', EXACT_TOLERANCE],
];

/** Extracts a golden file on the active backend; fails on any record outside `tolerance`. */
async function checkGolden(name: string, label: string, tolerance: Tolerance): Promise<void> {
  const golden = await loadGolden(name);
  const { size, levels, orientations, pixelsPerCell, cellsPerBlock } = golden.spec;
  const spec = parseFeatureSpec({ size, levels, orientations, pixelsPerCell, cellsPerBlock });
  const images = await Promise.all(golden.images.map((r) => goldenImage(r.file)));
  const before = backendDataIds();
  const start = performance.now();
  const results = await extractFeatures(images, spec);
  const ms = performance.now() - start;
  expect(backendDataIds(), 'tensors left behind').toBe(before);
  const problems: string[] = [];
  const worst = { hog: 0, hogFile: '', scalar: 0, scalarName: '' };
  golden.images.forEach((record, i) => {
    const result = results[i]!;
    problems.push(...extractionProblems(result, record, tolerance));
    if (!result.ok) return;
    if (record.hog && result.values.hog) {
      const err = relativeL2(result.values.hog, record.hog);
      if (err >= worst.hog) Object.assign(worst, { hog: err, hogFile: record.file });
    }
    for (const f of SCALAR_FEATURES) {
      const expected = record[f];
      const actual = result.values[f];
      if (expected === undefined || actual === undefined) continue;
      const err = scalarError(actual, expected);
      if (err >= worst.scalar) Object.assign(worst, { scalar: err, scalarName: `${f} of ${record.file}` });
    }
  });
  console.log(
    `[${label}] ${name}: ${golden.images.length} records in ${ms.toFixed(0)} ms; worst hog relative L2 ` +
      `${worst.hog.toExponential(2)} (${worst.hogFile || 'no vectors'}), worst scalar error ` +
      `${worst.scalar.toExponential(2)} (${worst.scalarName || '-'})`,
  );
  expect(problems).toEqual([]);
}

describe.each(BACKENDS)('golden vectors in the browser on %s', (backend, tolerance) => {
  it.each(GOLDEN_FILES)(
    '%s',
    async (name) => {
      // No skipping: without WebGL 2 (or float32 render targets) this fails.
      expect(await initFeatureBackend(backend), webglProblem() ?? undefined).toBe(backend);
      expect(getBackend()).toBe(backend);
      await checkGolden(name, backend, tolerance);
    },
    120_000,
  );
});

describe('GLCM on webgl in chunks', () => {
  it('gives the same features when a batch does not fit one texture', async () => {
    expect(await initFeatureBackend('webgl'), webglProblem() ?? undefined).toBe('webgl');
    // 64x64 images at 32 levels need 4 x 4096 values each: chunks of 5 images
    glcmWebglLimits.maxTexels = 5 * 4 * 4096;
    try {
      await checkGolden('s64_l32', 'webgl, chunks of 5', GPU_TOLERANCE);
    } finally {
      glcmWebglLimits.maxTexels = 0;
    }
  });
});

describe('the largest preview on webgl', () => {
  it('256x256 at 256 levels agrees with the cpu backend', async () => {
    const spec = parseFeatureSpec({ size: 256, levels: 256 });
    const images = await Promise.all(['camera.png', 'disc.png'].map(goldenImage));
    expect(await initFeatureBackend('cpu')).toBe('cpu');
    const exact = await extractFeatures(images, spec);
    expect(await initFeatureBackend('webgl'), webglProblem() ?? undefined).toBe('webgl');
    const start = performance.now();
    const gpu = await extractFeatures(images, spec);
    console.log(`[webgl] 2 images at 256x256, 256 levels: ${(performance.now() - start).toFixed(0)} ms`);
    gpu.forEach((result, i) => {
      const reference = exact[i]!;
      if (!result.ok || !reference.ok) throw new Error('refused');
      expect(relativeL2(result.values.hog!, reference.values.hog!)).toBeLessThanOrEqual(GPU_TOLERANCE.hogRelativeL2);
      for (const f of SCALAR_FEATURES) {
        expect(scalarError(result.values[f]!, reference.values[f]!), f).toBeLessThanOrEqual(GPU_TOLERANCE.scalar);
      }
    });
  });
});

describe('co-occurrence matrices on webgl', () => {
  it.each([8, 32, 256])('match the exact ones at %i levels', async (levels) => {
    expect(await initFeatureBackend('webgl'), webglProblem() ?? undefined).toBe('webgl');
    const names = ['camera.png', 'noise.png', 'flat.png', 'odd_65x65.png'];
    for (const file of names) {
      const image = await goldenImage(file);
      const x = tensor3d(image.data, [1, image.height, image.width]);
      const t = glcm(x, { levels });
      const actual = (await t.data()) as Float32Array;
      t.dispose();
      x.dispose();
      const expected = glcmImpl(image.data, 1, image.height, image.width, levels);
      expect(t.shape).toEqual([1, 4, levels, levels]);
      let maxError = 0;
      for (let i = 0; i < expected.length; i++) maxError = Math.max(maxError, Math.abs(actual[i]! - expected[i]!) / Math.max(1e-30, expected[i]!));
      // exact integer counts over an exact total: at most float32 division rounding
      expect(maxError, file).toBeLessThan(1e-6);
    }
  });
});
