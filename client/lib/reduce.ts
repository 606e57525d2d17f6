/**
 * What leaves the device for one image, by the service's privacy mode: the resized grey
 * pixels (`reduced`, exactly what the server would make of the file: prepareImage), the
 * feature vector (`features`, on the exact CPU kernels so that it matches the server's), or
 * the file itself (`original`, only for services that take nothing else).
 */
import { getBackend, setBackend } from '@tensorflow/tfjs-core';
import { extractBatch, featureVector, prepareImage, type PreparedImage } from '../../shared/features/extract.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { reducedData } from '../../shared/client/reduced.ts';
import type { GreyImage } from '../../shared/image/grey.ts';
import { sendingMode } from '../../shared/client/privacy.ts';
import { decodeImageAsync } from './decoding.ts';
import { formatBytes, formatCount } from '../../shared/format.ts';
import { packFloat64, type ClassifyImage, type ImageMode, type ServiceInfo } from '../../shared/protocol/messages.ts';

export interface Reduced {
  image: ClassifyImage;
  /** Time spent on this device: decode, resize, and for `features` the extraction. */
  reduceMs: number;
  /** What was sent, in words. */
  sent: string;
  /** The decoded image, for a thumbnail (null when the file could not be decoded here). */
  grey: GreyImage | null;
}


let exact: Promise<unknown> = Promise.resolve();

/**
 * Runs `work` on tfjs's cpu backend (the exact feature kernels; the CNN in float32 as the
 * server's wasm backend computes it), one at a time, then goes back to whatever backend the
 * preview had.
 */
export function onExactBackend<T>(work: () => Promise<T>): Promise<T> {
  const run = exact.then(async () => {
    const { initFeatureBackend } = await import('../features/backend.ts');
    const before = getBackend() as string | undefined;
    await initFeatureBackend('cpu');
    try {
      return await work();
    } finally {
      if (before && before !== 'cpu') await setBackend(before);
    }
  });
  exact = run.catch(() => {});
  return run;
}

/** Features on the exact kernels. */
function exactFeatures(image: PreparedImage, spec: FeatureSpec): Promise<Float64Array> {
  return onExactBackend(async () => {
    const [values] = await extractBatch([image], spec);
    return featureVector(values!, spec, image.height, image.width);
  });
}

/**
 * The image as the service's privacy mode lets it leave the device. Its file name does not
 * leave: names of medical images often carry the patient's.
 */
export async function reduce(bytes: Uint8Array, wanted: ImageMode, service: ServiceInfo): Promise<Reduced> {
  const t0 = performance.now();
  const mode = sendingMode(bytes, wanted, service.privacyModes);
  if (mode === 'original') {
    let grey: GreyImage | null = null;
    try {
      grey = await decodeImageAsync(bytes);
    } catch {
      // the server may read formats this device cannot: the file goes as it is
    }
    return { image: { mode, data: bytes }, reduceMs: performance.now() - t0, sent: `the original file (${formatBytes(bytes.length)})`, grey };
  }
  const grey = await decodeImageAsync(bytes);
  // an older server's spec lacks the keys added since: parsing gives them their defaults
  const spec = parseFeatureSpec(service.spec);
  const prepared = prepareImage(grey, spec);
  if (mode === 'reduced') {
    const image: ClassifyImage = { mode, data: reducedData(prepared) };
    const what = prepared.planes ? 'grey and colour (R, G, B) pixels' : 'grey pixels';
    return { image, reduceMs: performance.now() - t0, sent: `${prepared.width} × ${prepared.height} ${what}`, grey };
  }
  const vector = await exactFeatures(prepared, spec);
  return { image: { mode, data: { vector: packFloat64(vector) } }, reduceMs: performance.now() - t0, sent: `${formatCount(vector.length)} feature values`, grey };
}

/** A small PNG of the image as a data URL: at most `max` pixels a side, never enlarged. */
export function thumbnailOf(image: GreyImage, max = 96): string {
  const source = document.createElement('canvas');
  source.width = image.width;
  source.height = image.height;
  const pixels = new ImageData(image.width, image.height);
  for (let i = 0; i < image.data.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, image.data[i]!)) * 255);
    pixels.data[i * 4] = pixels.data[i * 4 + 1] = pixels.data[i * 4 + 2] = v;
    pixels.data[i * 4 + 3] = 255;
  }
  source.getContext('2d')!.putImageData(pixels, 0, 0);
  const scale = Math.min(1, max / Math.max(image.width, image.height));
  if (scale === 1) return source.toDataURL('image/png');
  const out = document.createElement('canvas');
  out.width = Math.max(1, Math.round(image.width * scale));
  out.height = Math.max(1, Math.round(image.height * scale));
  const ctx = out.getContext('2d')!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, out.width, out.height);
  return out.toDataURL('image/png');
}
