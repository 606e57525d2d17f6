/**
 * Classifying on this device with a downloaded model: the file is decoded and resized as for a
 * `reduced` image (prepareImage), then the server's own code takes over (classifyImages:
 * extraction, scaler, SVM, KNN or CNN), on tfjs's cpu backend. Nothing leaves the device.
 *
 * Why the cpu backend for the CNN: the server runs it on tfjs's wasm backend in float32; the
 * cpu backend is float32 too, with every kernel, on every browser, offline with no extra
 * asset, and its scores agree with the server's far inside 1e-4 (test/on_device.e2e.test.ts
 * measures it). WebGL may store in half floats and its float32 render targets are
 * optional, so its scores are not assured to agree; the networks here are small enough that
 * the GPU buys little. The features use the exact kernels (as the `features` mode does).
 */
import { classifyImages } from '../../shared/classify/classify_images.ts';
import type { LoadedModel } from '../../shared/classify/model.ts';
import { prepareImage } from '../../shared/features/extract.ts';
import { DEFAULT_DECODE_LIMITS } from '../../shared/image/index.ts';
import type { GreyImage } from '../../shared/image/grey.ts';
import { unpackFloat32 } from '../../shared/protocol/messages.ts';
import { reducedData } from '../../shared/client/reduced.ts';
import { decodeImageAsync } from './decoding.ts';
import { onExactBackend } from './reduce.ts';

export interface DeviceOutcome {
  label: string;
  scores: Record<string, number>;
  /** Decode and resize, as for a reduced image. */
  reduceMs: number;
  extractMs: number;
  classifyMs: number;
  grey: GreyImage;
}

export async function classifyOnDevice(bytes: Uint8Array, model: LoadedModel): Promise<DeviceOutcome> {
  const t0 = performance.now();
  const grey = await decodeImageAsync(bytes);
  const prepared = prepareImage(grey, model.spec);
  const data = reducedData(prepared);
  const reduceMs = performance.now() - t0;
  const [outcome] = await onExactBackend(() =>
    classifyImages(model, [{ mode: 'reduced', width: data.width, height: data.height, channels: data.channels ?? 1, pixels: unpackFloat32(data.pixels) }], DEFAULT_DECODE_LIMITS),
  );
  if (!outcome) throw new Error('the model gave no answer');
  if (!outcome.ok) throw new Error(`${outcome.message} (${outcome.code})`);
  return { label: outcome.label, scores: outcome.scores, reduceMs, extractMs: outcome.timings.extractMs, classifyMs: outcome.timings.classifyMs, grey };
}
