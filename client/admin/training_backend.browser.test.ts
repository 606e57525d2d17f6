import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { useTrainingBackend } from './training_backend.ts';

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
    expect(b).toMatchObject({ name: 'webgl', passedOver: [] });
    expect(b.label).toMatch(/^WebGL/);
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
    expect(b.passedOver).toHaveLength(1);
    expect(b.passedOver[0]).toMatch(/^WebGL: its gradients differ from the CPU's by \S+ \(relative L2; at most 0\.001 is accepted\)$/);
  }, 180_000);
});
