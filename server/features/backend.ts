import { setBackend, findBackend } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerWasmTrainingKernels } from '../../shared/classify/cnn/kernels/register_wasm.ts';
import { registerCpuSideKernels } from '../../shared/features/kernels/register_cpu.ts';

export type CpuSideBackendName = 'cpu' | 'wasm';

/**
 * Makes a CPU-side tfjs backend the active one, with the feature kernels registered.
 * `cpu` is the reference; `wasm` runs the same typed-array kernels.
 */
export async function useCpuBackend(name: CpuSideBackendName = 'cpu'): Promise<void> {
  registerCpuSideKernels();
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await setBackend(name))) throw new Error(`tfjs backend ${name} failed to initialise`);
  // The cpu backend advertises tfjs-node on its first write; the server means to run on it.
  const backend = findBackend(name) as { firstUse?: boolean } | null;
  if (backend) backend.firstUse = false;
}

/**
 * The backend the CNN trains (and the server classifies with it) on: wasm, with the
 * convolution gradients it lacks registered (shared/classify/cnn/kernels/register_wasm.ts).
 */
export async function useTrainingBackend(): Promise<void> {
  registerWasmTrainingKernels();
  await useCpuBackend('wasm');
}

/**
 * The backend a model classifies on: the CNN's convolutions on wasm (fast, the same on every
 * machine), features and the SVM/KNN on the cpu reference. Switching is cheap once both are up.
 */
export async function useBackendFor(classifier: 'svm' | 'knn' | 'cnn'): Promise<void> {
  if (classifier === 'cnn') await useTrainingBackend();
  else await useCpuBackend('cpu');
}
