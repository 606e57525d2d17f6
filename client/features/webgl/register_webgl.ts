import { getKernel, registerKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { glcmFeaturesWebglConfig, glcmWebglConfig } from './glcm_webgl.ts';
import { hogWebglConfig } from './hog_webgl.ts';

/** The feature kernels of the webgl backend, as tfjs-backend-webgl lists its own. */
export const WEBGL_KERNEL_CONFIGS: readonly KernelConfig[] = [hogWebglConfig, glcmFeaturesWebglConfig, glcmWebglConfig];

/** Registers the feature kernels for the 'webgl' backend; calling it again does nothing. */
export function registerWebglKernels(): void {
  for (const config of WEBGL_KERNEL_CONFIGS) {
    if (!getKernel(config.kernelName, config.backendName)) registerKernel(config);
  }
}
