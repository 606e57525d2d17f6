import { CPU_KERNELS } from './cpu_kernels.ts';

/** The kernels run on one batch of `batch x height x width` grey images (row-major, float32). */
export interface KernelSession {
  /** One kernel (names.ts) with its attributes: its values, row-major per image. */
  run(kernel: string, attrs: object): Promise<Float32Array | Int32Array>;
  dispose(): void;
}

/** How extract.ts runs the kernels: on a tfjs backend (tfjs_runner.ts), or directly. */
export interface KernelRunner {
  open(images: Float32Array, batch: number, height: number, width: number): KernelSession;
}

/**
 * The typed-array kernels called directly: the numbers of the cpu backend, which runs the
 * very same functions, without loading tfjs (about 0.2 s of CPU per thread) or its dispatch
 * per op (tens of microseconds, as much as a kernel on a 64x64 image).
 */
export const directCpuRunner: KernelRunner = {
  open: (images, batch, height, width) => ({
    run: async (kernel, attrs) => {
      const impl = CPU_KERNELS[kernel];
      if (!impl) throw new Error(`no CPU kernel ${kernel}`);
      return impl(images, batch, height, width, attrs as never)[1];
    },
    dispose: () => {},
  }),
};

let active: KernelRunner = directCpuRunner;

/** Chooses how the kernels run from now on (the browser's feature backend sets tfjs's). */
export function setKernelRunner(runner: KernelRunner): void {
  active = runner;
}

export const kernelRunner = (): KernelRunner => active;
