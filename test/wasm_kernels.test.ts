import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { glcmFeaturesImpl } from '../shared/features/kernels/glcm_impl.ts';
import { glcmWasm } from '../shared/features/kernels/glcm_wasm.ts';
import { hogImpl } from '../shared/features/kernels/hog_impl.ts';
import { hogWasm } from '../shared/features/kernels/hog_wasm.ts';
import { resizeBilinear } from '../shared/features/resize.ts';
import { decodeImage } from '../shared/image/index.ts';
import { splitImages } from './golden.ts';

/*
 * The WebAssembly passes of HOG and the GLCM (hog_wasm.ts, glcm_wasm.ts) against the
 * JavaScript ones they replace where WebAssembly SIMD runs: the same bits, value for value,
 * on real images at sizes that exercise the odd column, grids smaller than the image, and
 * flat areas (zero gradients and gradients on bin edges), and on a batch.
 */

const real = [...splitImages('breastmnist', 'test', 12), ...splitImages('retinamnist', 'test', 12)].map((f) => decodeImage(new Uint8Array(readFileSync(f))));

/** Steps and ramps: gradients exactly on bin edges (0, 45, 90 degrees), zero ones, and the near-180 case. */
function synthetic(size: number): Float32Array {
  const v = new Float32Array(size * size);
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) v[r * size + c] = r < size / 3 ? 0.25 : c < size / 2 ? ((r + c) % 7) / 8 : r === c ? 1 : (c * 3) / (4 * size);
  return v;
}

function images(size: number): Float32Array[] {
  return [...real.map((img) => resizeBilinear(img, size)), synthetic(size), new Float32Array(size * size)];
}

const bitsDiffer = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let n = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
};

describe('the WebAssembly kernels give the JavaScript kernels\' bits', () => {
  it('runs WebAssembly SIMD here (else this file would compare JavaScript with itself)', () => {
    expect(hogWasm()).not.toBeNull();
    expect(glcmWasm()).not.toBeNull();
  });

  const hogParams = [
    { orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 },
    { orientations: 12, pixelsPerCell: 6, cellsPerBlock: 3 },
    { orientations: 8, pixelsPerCell: 16, cellsPerBlock: 2 },
  ];
  it.each([16, 28, 37, 64, 101])('HOG at size %i', (size) => {
    const all = images(size);
    for (const p of hogParams) {
      for (const v of all) expect(bitsDiffer(hogImpl(v, 1, size, size, p), hogImpl(v, 1, size, size, p, false)), `${JSON.stringify(p)}`).toBe(0);
      const batch = new Float32Array(all.length * size * size);
      all.forEach((v, k) => batch.set(v, k * size * size));
      expect(bitsDiffer(hogImpl(batch, all.length, size, size, p), hogImpl(batch, all.length, size, size, p, false))).toBe(0);
    }
  });

  it('HOG of a non-square image whose cell grid stops short of both edges', () => {
    const [h, w] = [45, 70];
    const v = resizeBilinear(real[0]!, 70).subarray(0, h * w);
    const p = { orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 };
    expect(bitsDiffer(hogImpl(v, 1, h, w, p), hogImpl(v, 1, h, w, p, false))).toBe(0);
  });

  it.each([5, 28, 37, 64])('GLCM properties at size %i', (size) => {
    const all = images(size);
    for (const levels of [8, 32, 100, 256]) {
      for (const v of all) expect(bitsDiffer(glcmFeaturesImpl(v, 1, size, size, levels), glcmFeaturesImpl(v, 1, size, size, levels, false)), `levels ${levels}`).toBe(0);
      const batch = new Float32Array(all.length * size * size);
      all.forEach((v, k) => batch.set(v, k * size * size));
      expect(bitsDiffer(glcmFeaturesImpl(batch, all.length, size, size, levels), glcmFeaturesImpl(batch, all.length, size, size, levels, false))).toBe(0);
    }
  });
});
