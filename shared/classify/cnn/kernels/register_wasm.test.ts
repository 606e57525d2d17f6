import { conv2d, grads, mul, randomNormal, setBackend, sum, tensor, tidy, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register_wasm.ts';

/** dL/dx and dL/dW of sum(conv2d(x, w) * r) on a backend. */
async function gradients(backend: string, x: Float32Array, xs: number[], w: Float32Array, ws: number[], stride: number, pad: 'same' | 'valid', r: Float32Array) {
  await setBackend(backend);
  return tidy(() => {
    const f = (a: Tensor, b: Tensor) => {
      const y = conv2d(a as Tensor4D, b as Tensor4D, stride, pad);
      return sum(mul(y, tensor(r.subarray(0, y.size), y.shape)));
    };
    const [dx, dw] = grads(f)([tensor(x, xs), tensor(w, ws)]);
    return [dx!.dataSync() as Float32Array, dw!.dataSync() as Float32Array];
  });
}

describe('wasm training kernels (Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
  it('agree with the cpu backend on strided, padded and 1x1 convolutions', { timeout: 120_000 }, async () => {
    registerWasmTrainingKernels();
    await setBackend('cpu');
    const cases: { xs: number[]; ws: number[]; stride: number; pad: 'same' | 'valid' }[] = [
      { xs: [3, 9, 9, 2], ws: [3, 3, 2, 4], stride: 1, pad: 'same' },
      { xs: [2, 10, 10, 3], ws: [3, 3, 3, 5], stride: 2, pad: 'same' },
      { xs: [2, 9, 9, 3], ws: [3, 3, 3, 5], stride: 2, pad: 'same' },
      { xs: [2, 8, 8, 4], ws: [1, 1, 4, 6], stride: 2, pad: 'same' },
      { xs: [2, 8, 7, 2], ws: [3, 3, 2, 3], stride: 1, pad: 'valid' },
      { xs: [1, 12, 12, 1], ws: [5, 5, 1, 2], stride: 1, pad: 'same' },
      // three or more input channels: the filter gradient as a convolution (above: as im2col)
      { xs: [2, 8, 7, 3], ws: [3, 3, 3, 4], stride: 1, pad: 'valid' },
      { xs: [3, 6, 6, 8], ws: [3, 3, 8, 8], stride: 1, pad: 'same' },
      { xs: [2, 11, 11, 5], ws: [3, 3, 5, 6], stride: 2, pad: 'valid' },
    ];
    for (const c of cases) {
      const [x, w, r] = tidy(() => [randomNormal(c.xs, 0, 1, 'float32', 1), randomNormal(c.ws, 0, 1, 'float32', 2), randomNormal([4096], 0, 1, 'float32', 3)].map((t) => t.dataSync() as Float32Array));
      const [cdx, cdw] = await gradients('cpu', x!, c.xs, w!, c.ws, c.stride, c.pad, r!);
      const [wdx, wdw] = await gradients('wasm', x!, c.xs, w!, c.ws, c.stride, c.pad, r!);
      const close = (a: Float32Array, b: Float32Array) => a.every((v, i) => Math.abs(v - b[i]!) <= 1e-4 * (1 + Math.abs(v)));
      expect(close(wdx!, cdx!), `dx ${JSON.stringify(c)}`).toBe(true);
      expect(close(wdw!, cdw!), `dW ${JSON.stringify(c)}`).toBe(true);
    }
  });
});
