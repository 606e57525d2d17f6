import { getBackend, getKernel, registerKernel, setBackend, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateCnnAsync, releaseCnn } from '../../shared/classify/cnn/cnn_model.ts';
import { trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import type { Evaluation } from '../../shared/classify/evaluation.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import type { CnnParams } from '../../shared/classify/params.ts';
import { createRng } from '../../shared/classify/prng.ts';
import type { LabelledSet } from '../../shared/classify/train.ts';
import { relativeL2 } from '../../shared/features/tolerance.ts';
import { useTrainingBackend } from './training_backend.ts';

/** Headless Chromium's WebGPU is SwiftShader's, which the page passes over for WebGL. */
const SOFTWARE_WEBGPU = /^WebGPU runs in software here \(.*swiftshader.*\), slower than WebGL$/;

/** `n` 16x16 images of noise, class 1 with a brighter centre. */
function images(n: number, seed: number): LabelledSet {
  const rng = createRng(seed);
  const X = matrix(n, 256, Float64Array.from({ length: n * 256 }, () => 0.5 * rng.next()));
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  for (let i = 0; i < n; i++) if (y[i]) for (let r = 4; r < 12; r++) for (let c = 4; c < 12; c++) X.data[i * 256 + r * 16 + c]! += 0.4;
  return { X, y };
}

/** The webgl kernel replaced for a test, to put back afterwards. */
let replaced: KernelConfig | null = null;

afterEach(() => {
  if (!replaced) return;
  unregisterKernel(replaced.kernelName, replaced.backendName);
  registerKernel(replaced);
  replaced = null;
});

describe('the browser\'s training backend', () => {
  it('trains on WebGL where its gradients agree with the CPU backend\'s (SwiftShader here)', async () => {
    const b = await useTrainingBackend();
    expect(b.name).toBe('webgl');
    expect(b.label).toMatch(/^WebGL/);
    expect(b.passedOver).toEqual([expect.stringMatching(SOFTWARE_WEBGPU)]);
  }, 180_000);

  it('falls back to the CPU, saying why, when a WebGL kernel gives wrong gradients', async () => {
    const original = getKernel('Conv2DBackpropFilter', 'webgl')!;
    unregisterKernel('Conv2DBackpropFilter', 'webgl');
    replaced = original;
    // the filter's gradient, doubled: a wrong kernel that still runs
    registerKernel({
      ...original,
      kernelFunc: (args) => {
        const out = (original.kernelFunc as (a: typeof args) => { dataId: object; shape: number[]; dtype: 'float32' })(args);
        const backend = args.backend as unknown as { readSync(id: object): Float32Array; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): unknown; disposeIntermediateTensorInfo(t: unknown): void };
        const doubled = Float32Array.from(backend.readSync(out.dataId), (v) => 2 * v);
        backend.disposeIntermediateTensorInfo(out);
        return backend.makeTensorInfo(out.shape, 'float32', doubled) as ReturnType<typeof original.kernelFunc>;
      },
    });
    const b = await useTrainingBackend();
    expect(b.name).toBe('cpu');
    expect(b.passedOver).toHaveLength(2);
    expect(b.passedOver[0]).toMatch(SOFTWARE_WEBGPU);
    expect(b.passedOver[1]).toMatch(/^WebGL: its gradients differ from the CPU's by \S+ \(relative L2; at most 0\.001 is accepted\)$/);
  }, 180_000);

  it('trains on WebGPU where asked to take a software adapter: its gradients agree, and the model gives the CPU-trained one\'s labels and scores within 1e-4', async () => {
    const data = { labels: ['plain', 'bright'], train: images(32, 1), val: images(16, 2), test: images(16, 3) };
    const params: CnnParams = { type: 'cnn', epochs: 2, widths: [4, 8], augment: true, flip: true };
    const fit = { inputSize: 16, channels: 1, seed: 5, classWeight: null, training: { batchSize: 16 } };
    const trained: Record<string, { weights: Float32Array; e: Evaluation; ms: number }> = {};
    for (const where of ['webgpu', 'cpu'] as const) {
      if (where === 'webgpu') {
        const b = await useTrainingBackend({ softwareWebGpu: true });
        expect(b).toMatchObject({ name: 'webgpu', passedOver: [] });
        expect(b.label).toMatch(/^WebGPU \(.*swiftshader/);
      } else await setBackend('cpu');
      expect(getBackend()).toBe(where);
      const started = performance.now();
      const outcome = await trainCnnModel(data, params, fit);
      const net = outcome.predictor.classifier;
      if (net.type !== 'cnn') throw new Error('not a CNN');
      const e = await evaluateCnnAsync(net.model, data.test.X);
      releaseCnn(net.model);
      trained[where] = { weights: Float32Array.from([...net.model.weights.values()].flatMap((w) => Array.from(w))), e, ms: performance.now() - started };
    }
    const [gpu, cpu] = [trained['webgpu']!, trained['cpu']!];
    let worst = 0;
    for (let i = 0; i < cpu.e.scores.length; i++) worst = Math.max(worst, Math.abs(gpu.e.scores[i]! - cpu.e.scores[i]!));
    console.log(`2 epochs of 32 16x16 images: WebGPU (SwiftShader) ${(gpu.ms / 1000).toFixed(1)} s, CPU ${(cpu.ms / 1000).toFixed(1)} s; weights' relative L2 ${relativeL2(gpu.weights, cpu.weights).toExponential(2)}; largest score difference ${worst.toExponential(2)}; labels ${Array.from(cpu.e.predicted).join('')}`);
    expect(Array.from(gpu.e.predicted)).toEqual(Array.from(cpu.e.predicted));
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(relativeL2(gpu.weights, cpu.weights)).toBeLessThan(1e-3);
  }, 300_000);
});
