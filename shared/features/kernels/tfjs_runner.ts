import { tensor3d } from '@tensorflow/tfjs-core';
import { runOp } from './ops.ts';
import type { KernelRunner } from './runner.ts';

/** The kernels on the active tfjs backend (WebGL in the browser), the batch uploaded once for all of them. */
export const tfjsRunner: KernelRunner = {
  open(images, batch, height, width) {
    const x = tensor3d(images, [batch, height, width]);
    return {
      async run(kernel, attrs) {
        const t = runOp(kernel, x, attrs);
        try {
          return (await t.data()) as Float32Array | Int32Array;
        } finally {
          t.dispose();
        }
      },
      dispose: () => x.dispose(),
    };
  },
};
