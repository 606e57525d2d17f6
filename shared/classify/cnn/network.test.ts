import { add, grads, moments, mul, randomNormal, rsqrt, setBackend, sub, sum, tensor, tidy, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './kernels/register_wasm.ts';
import { batchNormTraining, BN_EPSILON } from './network.ts';

/** The same batch norm left to autodiff: the reference for the written-out gradient. */
function plainBatchNorm(x: Tensor4D, gamma: Tensor, beta: Tensor): Tensor4D {
  const { mean, variance } = moments(x, [0, 1, 2]);
  return add(mul(sub(x, mean), mul(gamma, rsqrt(add(variance, BN_EPSILON)))), beta);
}

describe('batch norm in training (one op with its own gradient)', () => {
  for (const backend of ['cpu', 'wasm']) {
    it(`gives the values, batch statistics and gradients of the autodiff formula (${backend})`, { timeout: 120_000 }, async () => {
      registerWasmTrainingKernels();
      await setBackend(backend);
      const [x, gamma, beta, r] = tidy(() => [randomNormal([3, 5, 4, 6], 0.5, 2, 'float32', 1), randomNormal([6], 1, 0.3, 'float32', 2), randomNormal([6], 0, 1, 'float32', 3), randomNormal([3, 5, 4, 6], 0, 1, 'float32', 4)]) as [Tensor4D, Tensor, Tensor, Tensor4D];
      const outcome = (bn: (a: Tensor4D, g: Tensor, b: Tensor) => Tensor4D) =>
        tidy(() => {
          const y = bn(x, gamma, beta);
          const g = grads((a: Tensor, b: Tensor, c: Tensor) => sum(mul(bn(a as Tensor4D, b, c), r)))([x, gamma, beta]);
          return [y, ...g].map((t) => t.dataSync() as Float32Array);
        });
      const kept: Tensor[][] = [];
      const ours = outcome((a, g, b) => batchNormTraining(a, g, b, (m, v) => kept.push([m, v])));
      const stats = kept[0]!.map((t) => t.dataSync() as Float32Array);
      kept.flat().forEach((t) => t.dispose());
      const reference = outcome(plainBatchNorm);
      const close = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= 1e-4 * (1 + Math.abs(b[i]!)));
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => expect(close(ours[i]!, reference[i]!), name).toBe(true));
      const m = tidy(() => moments(x, [0, 1, 2]));
      expect(close(stats[0]!, m.mean.dataSync() as Float32Array)).toBe(true);
      expect(close(stats[1]!, m.variance.dataSync() as Float32Array)).toBe(true);
      expect(tensor(ours[0]!).size).toBe(x.size);
    });
  }
});
