import { tidy } from '@tensorflow/tfjs-core';
import { extractBatch, type FeatureValues } from '../../shared/features/extract.ts';
import type { GreyImage } from '../../shared/image/grey.ts';
import { prepareImage } from '../../shared/features/extract.ts';
import { glcm } from '../../shared/features/kernels/ops.ts';
import { tensor3d, mean } from '@tensorflow/tfjs-core';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { codecBuild, decodeImageAsync, dicomCodecsNeeded, findDecoder, readDicomInfo, type CodecBuild, type DicomInfo, type WasmCodec } from '../lib/decoding.ts';
import { initFeatureBackend, webglProblem, type FeatureBackendName } from '../features/backend.ts';

export interface PreviewResult {
  backend: FeatureBackendName;
  /** Why WebGL was not used although asked for, if so. */
  fallbackReason: string | null;
  decoded: { width: number; height: number };
  prepared: GreyImage;
  values: FeatureValues;
  /** The co-occurrence matrix averaged over the four angles, `levels x levels`. */
  glcmMean: Float32Array;
  timings: { decodeMs: number; resizeMs: number; extractMs: number; totalMs: number };
  /** What a DICOM file's header says (null for other formats); nothing of it leaves the device. */
  dicom: DicomInfo | null;
  /** The compressed-DICOM codecs this file needed, and which build of each decoded it. */
  codecs: CodecUse[];
}

export interface CodecUse {
  codec: WasmCodec;
  build: CodecBuild | null;
}

let active: Promise<FeatureBackendName> | null = null;
let activeFor: FeatureBackendName | null = null;

/** Switches backend only when the choice changes; tfjs keeps one active backend per page. */
function backendFor(prefer: FeatureBackendName): Promise<FeatureBackendName> {
  if (!active || activeFor !== prefer) {
    activeFor = prefer;
    active = initFeatureBackend(prefer);
  }
  return active;
}

/** Decodes an image file in the browser (never through a canvas: docs/features.md) and computes its features. */
export async function computePreview(bytes: Uint8Array, spec: FeatureSpec, prefer: FeatureBackendName): Promise<PreviewResult> {
  const backend = await backendFor(prefer);
  const t0 = performance.now();
  const decoded = await decodeImageAsync(bytes);
  const dicom = findDecoder(bytes)?.format === 'dicom' ? readDicomInfo(bytes) : null;
  const codecs = dicom ? dicomCodecsNeeded(bytes).map((codec) => ({ codec, build: codecBuild(codec) })) : [];
  const t1 = performance.now();
  const prepared = prepareImage(decoded, spec);
  const t2 = performance.now();
  const [values] = await extractBatch([prepared], spec);
  const glcmTensor = tidy(() => mean(glcm(tensor3d(prepared.data, [1, prepared.height, prepared.width]), spec), [0, 1]));
  const glcmMean = (await glcmTensor.data()) as Float32Array;
  glcmTensor.dispose();
  const t3 = performance.now();
  return {
    backend,
    fallbackReason: prefer === 'webgl' && backend !== 'webgl' ? webglProblem() : null,
    decoded: { width: decoded.width, height: decoded.height },
    prepared,
    values: values!,
    glcmMean,
    timings: { decodeMs: t1 - t0, resizeMs: t2 - t1, extractMs: t3 - t2, totalMs: t3 - t0 },
    dicom,
    codecs,
  };
}
