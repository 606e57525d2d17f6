import { setBackend, findBackend } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerWasmTrainingKernels } from '../../shared/classify/cnn/kernels/register_wasm.ts';
import { registerCpuSideKernels } from '../../shared/features/kernels/register_cpu.ts';
import { setKernelRunner } from '../../shared/features/kernels/runner.ts';
import { tfjsRunner } from '../../shared/features/kernels/tfjs_runner.ts';
import { useNativeInflate } from './native_inflate.ts';

export type CpuSideBackendName = 'cpu' | 'wasm';

/**
 * Makes a CPU-side tfjs backend the active one, with the feature kernels registered, and
 * features extracted through it. `cpu` is the reference; `wasm` runs the same typed-array
 * kernels. The server itself needs no tfjs: see server_kernels.ts.
 */
export async function useCpuBackend(name: CpuSideBackendName = 'cpu'): Promise<void> {
  registerCpuSideKernels();
  setKernelRunner(tfjsRunner);
  useNativeInflate();
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await setBackend(name))) throw new Error(`tfjs backend ${name} failed to initialise`);
  // The cpu backend advertises tfjs-node on its first write; the server means to run on it.
  const backend = findBackend(name) as { firstUse?: boolean } | null;
  if (backend) backend.firstUse = false;
}

/**
 * The tfjs backend the CNN trains and classifies on: wasm, with the convolution gradients it
 * lacks registered (shared/classify/cnn/kernels/register_wasm.ts). Feature extraction is left
 * as it was (the network only reads the `pixels` feature).
 */
export async function useCnnBackend(): Promise<void> {
  registerWasmTrainingKernels();
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await setBackend('wasm'))) throw new Error('tfjs backend wasm failed to initialise');
}
