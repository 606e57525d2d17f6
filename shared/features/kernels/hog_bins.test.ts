import { describe, expect, it } from 'vitest';
import { fastBin, referenceBin } from './hog_bins.ts';

describe('fastBin', () => {
  it('puts every gradient in the bin of the double-precision reference angle', () => {
    // a fixed LCG, so the test is the same every run
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (const n of [2, 4, 6, 8, 9, 12, 18, 36]) {
      for (let k = 0; k < 20_000; k++) {
        const gx = next();
        const gy = next() || 1e-3;
        expect(fastBin(gx, gy, n), `n=${n} g=(${gx}, ${gy})`).toBe(referenceBin(gx, gy, n));
      }
    }
  });

  it('decides exact edge directions and near-180-degree gradients as scikit-image does', () => {
    const cases: [number, number][] = [
      [1, 1], [-1, 1], [0, 1], [0, -1], [1, -1], [-1, -1], [0.32, -3e-8], [-0.32, 3e-8], [1e-300, 1], [-1, 1e-17], [1, -1e-17],
    ];
    for (const n of [9, 12]) for (const [gx, gy] of cases) expect(fastBin(gx, gy, n), `n=${n} (${gx}, ${gy})`).toBe(referenceBin(gx, gy, n));
    expect(referenceBin(1, -1e-17, 9)).toBe(-1); // the floor-mod rounds up to 180: no bin, as in scikit-image
    expect(referenceBin(1, 1, 12)).toBe(3); // exactly 45 degrees opens bin 3 of 12
  });
});
