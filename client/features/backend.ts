import { env, getBackend, setBackend, tensor3d } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { glcmFeaturesImpl } from '../../shared/features/kernels/glcm_impl.ts';
import { hogImpl } from '../../shared/features/kernels/hog_impl.ts';
import { glcmFeatures, hog } from '../../shared/features/kernels/ops.ts';
import { registerCpuSideKernels } from '../../shared/features/kernels/register_cpu.ts';
import { setKernelRunner } from '../../shared/features/kernels/runner.ts';
import { tfjsRunner } from '../../shared/features/kernels/tfjs_runner.ts';
import { GPU_TOLERANCE, relativeL2, scalarError } from '../../shared/features/tolerance.ts';
import { registerWebglKernels } from './webgl/register_webgl.ts';

export type FeatureBackendName = 'webgl' | 'cpu';

/**
 * What the feature kernels need of WebGL: version 2 (32-bit integer indices in the
 * shaders) and float32 render targets (with the half floats tfjs falls back to otherwise,
 * HOG and GLCM lose far more than the GPU tolerance of docs/features.md section 5).
 */
function webglCapable(): boolean {
  try {
    return env().getNumber('WEBGL_VERSION') >= 2 && env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  } catch {
    return false;
  }
}

/**
 * A small image with gradients at every orientation, exactly on the 45/90/135-degree bin
 * edges too (ramps), and levels all over, to check a GPU's results once against the exact
 * typed-array kernels before trusting it.
 */
function probeImage(height: number, width: number): Float32Array {
  const v = new Float32Array(height * width);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const quadrant = (r < height / 2 ? 0 : 2) + (c < width / 2 ? 0 : 1);
      const ramp = [c / width, r / height, (r + c) / (height + width), (r + width - c) / (height + width)][quadrant]!;
      v[r * width + c] = 0.75 * ramp + 0.25 * (((r * 37 + c * 101) % 23) / 23) * (quadrant & 1);
    }
  }
  return v;
}

/**
 * Why the webgl kernels (on the active backend) cannot be trusted here, or null when they
 * agree with the exact ones within GPU_TOLERANCE.
 */
async function webglDisagreement(): Promise<string | null> {
  const [height, width, levels] = [24, 28, 16];
  const params = { orientations: 12, pixelsPerCell: 4, cellsPerBlock: 2 };
  const data = probeImage(height, width);
  const x = tensor3d(data, [1, height, width]);
  try {
    const hogT = hog(x, params);
    const glcmT = glcmFeatures(x, { levels });
    const [h, g] = await Promise.all([hogT.data(), glcmT.data()]);
    hogT.dispose();
    glcmT.dispose();
    const hogRef = hogImpl(data, 1, height, width, params);
    const glcmRef = glcmFeaturesImpl(data, 1, height, width, levels);
    if (h.length !== hogRef.length) return `probe HOG has ${h.length} values, expected ${hogRef.length}`;
    const hogError = relativeL2(h, hogRef);
    if (!(hogError <= GPU_TOLERANCE.hogRelativeL2)) return `probe HOG off by ${hogError} (relative L2)`;
    const glcmError = Math.max(...Array.from(glcmRef, (b, i) => scalarError(g[i]!, b)));
    if (!(glcmError <= GPU_TOLERANCE.scalar)) return `probe GLCM properties off by ${glcmError}`;
    return null;
  } catch (e) {
    return `probe failed: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    x.dispose();
  }
}

/** The verdict on WebGL, found once: null when usable for features, else why not. */
let webglVerdict: Promise<string | null> | null = null;
let webglReason: string | null = null;

/** Why the last `initFeatureBackend('webgl')` fell back to cpu (null when it did not). */
export const webglProblem = (): string | null => webglReason;

async function useWebgl(): Promise<string | null> {
  try {
    if (!(await setBackend('webgl'))) return 'the tfjs webgl backend failed to initialise';
  } catch (e) {
    return `the tfjs webgl backend failed to initialise: ${e instanceof Error ? e.message : String(e)}`;
  }
  webglVerdict ??= webglCapable() ? webglDisagreement() : Promise.resolve('WebGL 2 with float32 render targets is needed');
  return webglVerdict;
}

/** Renderer strings of WebGL drawn on the CPU (Chromium's SwiftShader, Mesa's llvmpipe and softpipe, Windows' Basic Render Driver). */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render/i;

/**
 * The WebGL 2 renderer's name (WEBGL_debug_renderer_info's unmasked one where given), or
 * null where there is no WebGL 2.
 */
export function webglRenderer(): string | null {
  try {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) return null;
    const debug = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return name;
  } catch {
    return null;
  }
}

export interface BackendAdvice {
  backend: FeatureBackendName;
  /** Why, in words for the page. */
  reason: string;
}

/**
 * The backend to use when the user has not chosen: the GPU through WebGL where it is real
 * hardware, the CPU where there is no WebGL 2 or where WebGL is a software renderer
 * (SwiftShader, llvmpipe: 20 to 30 times slower than the CPU kernels for the same work).
 */
export function adviseBackend(renderer: string | null = webglRenderer()): BackendAdvice {
  if (renderer === null) return { backend: 'cpu', reason: 'this browser has no WebGL 2' };
  if (SOFTWARE_RENDERER.test(renderer)) {
    return { backend: 'cpu', reason: `WebGL here is a software renderer (${renderer}), slower than the CPU` };
  }
  return { backend: 'webgl', reason: `a graphics processor is available (${renderer})` };
}

/**
 * Registers the feature kernels (the exact CPU-side ones and the WebGL ones) and makes a
 * backend active for the browser preview: by default (`auto`) the one `adviseBackend`
 * names; WebGL when asked for, present and found to agree with the exact kernels on a probe
 * image, else the exact cpu backend. Returns the backend in use.
 */
export async function initFeatureBackend(prefer: FeatureBackendName | 'auto' = 'auto'): Promise<FeatureBackendName> {
  if (prefer === 'auto') prefer = adviseBackend().backend;
  registerCpuSideKernels();
  registerWebglKernels();
  setKernelRunner(tfjsRunner);
  webglReason = null;
  if (prefer === 'webgl') {
    webglReason = await useWebgl();
    if (webglReason === null) return 'webgl';
  }
  if (!(await setBackend('cpu'))) throw new Error('tfjs backend cpu failed to initialise');
  const active = getBackend();
  if (active !== 'cpu') throw new Error(`tfjs backend cpu requested, ${active} is active`);
  return 'cpu';
}
