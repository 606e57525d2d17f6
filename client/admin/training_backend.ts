/**
 * Where the admin's browser trains the CNN: tfjs's WebGL backend on the machine's GPU when it
 * renders float32 (with half floats the gradients lose too much), else the CPU backend, slowly,
 * with the reason in words. WebGPU is not offered yet: tfjs's WebGPU backend is not a
 * dependency of this build, so a machine with WebGPU trains on WebGL.
 */
import { env, findBackend, setBackend } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';

export interface TrainingBackend {
  name: 'webgl' | 'cpu';
  /** What runs the training, in words, for the page: "WebGL (ANGLE (..., SwiftShader ...))". */
  label: string;
  /** Why it is not the GPU, when it is not; null on WebGL. */
  fallback: string | null;
}

/** The GPU's name as WebGL reports it, when it does. */
function rendererOf(): string | null {
  try {
    const gl = (findBackend('webgl') as unknown as { gpgpu?: { gl?: WebGLRenderingContext } } | null)?.gpgpu?.gl;
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name: unknown = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    return typeof name === 'string' && name ? name : null;
  } catch {
    return null;
  }
}

async function trySetBackend(name: string): Promise<boolean> {
  try {
    return await setBackend(name);
  } catch {
    return false;
  }
}

/** Makes the training backend the active one and says which it is. */
export async function useTrainingBackend(): Promise<TrainingBackend> {
  let fallback: string;
  if (await trySetBackend('webgl')) {
    if (env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) {
      const renderer = rendererOf();
      return { name: 'webgl', label: `WebGL${renderer ? ` (${renderer})` : ''}`, fallback: null };
    }
    fallback = 'this browser\u2019s WebGL renders only half floats, too coarse for training';
  } else {
    fallback = 'WebGL is not available in this browser';
  }
  if (!(await trySetBackend('cpu'))) throw new Error('no tfjs backend could start in this browser');
  return { name: 'cpu', label: 'the CPU (slow)', fallback };
}
