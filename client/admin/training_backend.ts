/**
 * Where the admin's browser trains the CNN: tfjs's WebGPU backend on a hardware GPU, else
 * WebGL where the browser renders float32 (half floats lose too much in the gradients), else
 * the CPU backend, slowly. A GPU backend is used only once the gradients of one small batch on
 * it agree with the CPU backend's (a missing or wrong kernel shows there, not in a spoilt
 * model); the page says which backend trains and why a better one was passed over.
 *
 * WebGPU on a software adapter (SwiftShader, as in the headless tests) is passed over for
 * WebGL: it trains and agrees there, but about three times slower than SwiftShader's WebGL.
 * The training reads values asynchronously (`data()`), which WebGPU needs: its synchronous
 * read failed there ("mapAsync ... A valid external Instance reference no longer exists").
 */
import { grads, logSoftmax, mean, mul, neg, setBackend, sum, tensor2d, tensor4d, env, findBackend, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
// tfjs-core's gradients (tfjs-layers registers them all; the network's training imports it too)
import '@tensorflow/tfjs-layers';
import { defaultArchitecture, forward, initialValues, paramTensors, parameterSpecs } from '../../shared/classify/cnn/network.ts';
import { createRng } from '../../shared/classify/prng.ts';
import { errorMessage } from '../../shared/errors.ts';
import { relativeL2 } from '../../shared/features/tolerance.ts';

export interface TrainingBackend {
  name: 'webgpu' | 'webgl' | 'cpu';
  /** What trains, in words, for the page: "WebGL (ANGLE (..., SwiftShader ...))". */
  label: string;
  /** Each better backend not used, and why, in words. */
  passedOver: string[];
}

/** How far a GPU's gradients may be from the CPU's (relative L2 over all of them): float32 sums in another order. */
export const GRADIENT_TOLERANCE = 1e-3;

/** The gradients of a small network's loss on one batch of seeded images, on the active backend. */
async function probeGradients(): Promise<Float32Array> {
  const a = defaultArchitecture(16, 1, 2, [4, 8]);
  const rng = createRng(11);
  const params = paramTensors(initialValues(a, rng), a);
  const n = 8;
  const x = tensor4d(Float32Array.from({ length: n * 16 * 16 }, () => 2 * rng.next() - 1), [n, 16, 16, 1]);
  const target = tensor2d(Float32Array.from({ length: n * 2 }, (_, i) => +((i >> 1) % 2 === i % 2)), [n, 2]);
  const trainable = parameterSpecs(a).filter((p) => p.trainable).map((p) => p.name);
  let gradients: Tensor[] = [];
  try {
    gradients = grads((...ws: Tensor[]) => {
      const p = new Map(params);
      trainable.forEach((name, i) => p.set(name, ws[i]!));
      return neg(mean(sum(mul(target, logSoftmax(forward(a, p, x as Tensor4D, { training: true }))), 1)));
    })(trainable.map((name) => params.get(name)!));
    const values = await Promise.all(gradients.map((g) => g.data() as Promise<Float32Array>));
    const out = new Float32Array(values.reduce((s, v) => s + v.length, 0));
    let o = 0;
    for (const v of values) {
      out.set(v, o);
      o += v.length;
    }
    return out;
  } finally {
    for (const t of [...gradients, ...params.values(), x, target]) t.dispose();
  }
}

/** Why the active GPU backend cannot be trusted to train, or null when its gradients agree with the CPU's. */
async function disagreement(reference: Float32Array): Promise<string | null> {
  try {
    const got = await probeGradients();
    const d = relativeL2(got, reference);
    return d <= GRADIENT_TOLERANCE ? null : `its gradients differ from the CPU's by ${d.toPrecision(2)} (relative L2; at most ${GRADIENT_TOLERANCE} is accepted)`;
  } catch (e) {
    return `it failed a training step: ${errorMessage(e)}`;
  }
}

async function trySetBackend(name: string): Promise<boolean> {
  try {
    return await setBackend(name);
  } catch {
    return false;
  }
}

/** The GPU's name as WebGL reports it, when it does. */
function webglRenderer(): string {
  try {
    const gl = (findBackend('webgl') as unknown as { gpgpu?: { gl?: WebGLRenderingContext } } | null)?.gpgpu?.gl;
    if (!gl) return '';
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name: unknown = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

const named = (what: string, device: string) => (device ? `${what} (${device})` : what);

/** The WebGPU adapter tfjs would take, as far as the page needs to know it. */
interface GpuAdapterFacts {
  name: string;
  software: boolean;
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

/** The adapter WebGPU gives this page (tfjs asks for the high-performance one), or null where there is none. */
async function webgpuAdapter(): Promise<GpuAdapterFacts | null> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(o?: { powerPreference?: string }): Promise<GpuAdapterLike | null> } }).gpu;
  const adapter = await gpu?.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const words = [info.vendor, info.architecture, info.device, info.description].filter((w): w is string => !!w);
  return { name: words.join(' '), software: adapter.isFallbackAdapter === true || words.some((w) => /swiftshader|llvmpipe|software/i.test(w)) };
}

export interface BackendChoice {
  /** Train on WebGPU even on a software adapter (the tests: SwiftShader is the only WebGPU there). */
  softwareWebGpu?: boolean;
}

/** Makes the training backend the active one and says which it is. */
export async function useTrainingBackend(choice: BackendChoice = {}): Promise<TrainingBackend> {
  const passedOver: string[] = [];
  if (!(await trySetBackend('cpu'))) throw new Error('the CPU backend of tfjs could not start in this browser');
  const reference = await probeGradients();

  // loaded only now, with the CPU backend active: it registers itself first in tfjs's order of preference
  const adapter = await webgpuAdapter();
  if (!adapter) passedOver.push('WebGPU is not available in this browser');
  else if (adapter.software && !choice.softwareWebGpu) passedOver.push(`WebGPU runs in software here (${adapter.name || 'a fallback adapter'}), slower than WebGL`);
  else if (!(await import('@tensorflow/tfjs-backend-webgpu').then(() => trySetBackend('webgpu'), () => false))) passedOver.push('WebGPU could not start in this browser');
  else {
    const why = await disagreement(reference);
    if (!why) return { name: 'webgpu', label: named('WebGPU', adapter.name), passedOver };
    passedOver.push(`WebGPU: ${why}`);
  }

  if (!(await trySetBackend('webgl'))) passedOver.push('WebGL is not available in this browser');
  else if (!env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) passedOver.push('this browser\u2019s WebGL renders only half floats, too coarse for training');
  else {
    const why = await disagreement(reference);
    if (!why) return { name: 'webgl', label: named('WebGL', webglRenderer()), passedOver };
    passedOver.push(`WebGL: ${why}`);
  }

  await setBackend('cpu');
  return { name: 'cpu', label: 'the CPU (no GPU backend could be used; slow)', passedOver };
}
