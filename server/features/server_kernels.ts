import { directCpuRunner, setKernelRunner } from '../../shared/features/kernels/runner.ts';
import { useNativeInflate } from './native_inflate.ts';

/**
 * How the server and the command line extract features: the typed-array kernels called
 * directly (the cpu backend's numbers, without loading tfjs), PNGs inflated by node:zlib.
 */
export function useServerKernels(): void {
  setKernelRunner(directCpuRunner);
  useNativeInflate();
}
