import { tensor3d } from '@tensorflow/tfjs-core';
import { MedclassError } from '../../shared/errors.ts';
import { checkExtractable, extractBatch, prepareImage, type FeatureValues, type PreparedImage } from '../../shared/features/extract.ts';
import { lbpCodes } from '../../shared/features/kernels/lbp_impl.ts';
import { GABOR, GLCM_ANGLES, HISTOGRAM, LBP, MOMENTS } from '../../shared/features/kernels/names.ts';
import { glcm, runsOnActiveBackend } from '../../shared/features/kernels/ops.ts';
import { FEATURE_FAMILIES, FEATURE_NAMES, type FeatureFamily, type FeatureName, type FeatureSpec } from '../../shared/features/spec.ts';
import { codecBuild, decodeImageAsync, dicomCodecsNeeded, findDecoder, readDicomInfo, type CodecBuild, type DicomInfo, type WasmCodec } from '../lib/decoding.ts';
import { initFeatureBackend, webglProblem, type FeatureBackendName } from '../features/backend.ts';

/** The families the preview shows beyond the seven, with the kernel that computes each. */
const FAMILY_KERNELS: [FeatureFamily, string][] = [
  ['lbp', LBP],
  ['glcmAngles', GLCM_ANGLES],
  ['intensity', HISTOGRAM],
  ['colour', MOMENTS],
  ['gabor', GABOR],
];
/** Above this many pixels the preview leaves the Gabor bank out: its convolutions grow with the image. */
const GABOR_PREVIEW_PIXELS = 256 * 256;

export interface PreviewResult {
  backend: FeatureBackendName;
  /** Why WebGL was not used although asked for, if so. */
  fallbackReason: string | null;
  decoded: { width: number; height: number; colour: boolean };
  prepared: PreparedImage;
  /** The spec the values were extracted with: every family that applies to this image. */
  spec: FeatureSpec;
  values: FeatureValues;
  /** Families left out for this image, and why (too small for them, or not colour). */
  skipped: { family: FeatureFamily; reason: string }[];
  /** Families the active backend has no kernel for, computed on the CPU (exact) instead. */
  onCpu: FeatureFamily[];
  /** The co-occurrence matrices at distance 1, one per angle (0, 45, 90, 135 degrees), `levels x levels` each. */
  glcmPerAngle: Float32Array[];
  /** Their mean over the four angles. */
  glcmMean: Float32Array;
  /** The LBP code of every pixel for the spec's first LBP setting. */
  lbpCodes: Int32Array;
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

/**
 * Every feature of `params` that applies to this image: the seven always (the image is
 * refused without them, as everywhere), each later family unless the image is too small for
 * it or, for colour, grey; what is left out is said.
 */
function applicableSpec(params: FeatureSpec, width: number, height: number, colour: boolean): { spec: FeatureSpec; skipped: PreviewResult['skipped'] } {
  const w = params.size || width;
  const h = params.size || height;
  const skipped: PreviewResult['skipped'] = [];
  const features: FeatureName[] = [...FEATURE_NAMES.slice(0, 7)];
  for (const family of ['hog2', 'lbp', 'glcmAngles', 'intensity', 'colour', 'gabor'] as const) {
    const own = [...FEATURE_FAMILIES[family]] as FeatureName[];
    if (family === 'gabor' && w * h > GABOR_PREVIEW_PIXELS) {
      skipped.push({ family, reason: `the preview computes it up to ${GABOR_PREVIEW_PIXELS} pixels; resize to 256 or less to see it` });
      continue;
    }
    try {
      checkExtractable({ ...params, features: own }, w, h, colour);
      features.push(...own);
    } catch (e) {
      if (!(e instanceof MedclassError)) throw e;
      skipped.push({ family, reason: e.message });
    }
  }
  return { spec: { ...params, features: FEATURE_NAMES.filter((f) => features.includes(f)) }, skipped };
}

/**
 * Decodes an image file in the browser (never through a canvas: docs/features.md) and
 * computes its features: those of `params`, or with `allFamilies` every family that applies
 * to the image (the preview page), saying which were left out and why.
 */
export async function computePreview(bytes: Uint8Array, params: FeatureSpec, prefer: FeatureBackendName, allFamilies = false): Promise<PreviewResult> {
  const backend = await backendFor(prefer);
  const t0 = performance.now();
  const decoded = await decodeImageAsync(bytes);
  const dicom = findDecoder(bytes)?.format === 'dicom' ? readDicomInfo(bytes) : null;
  const codecs = dicom ? dicomCodecsNeeded(bytes).map((codec) => ({ codec, build: codecBuild(codec) })) : [];
  const t1 = performance.now();
  const { spec, skipped } = allFamilies ? applicableSpec(params, decoded.width, decoded.height, decoded.colour !== undefined) : { spec: params, skipped: [] };
  const prepared = prepareImage(decoded, spec);
  const t2 = performance.now();
  const [values] = await extractBatch([prepared], spec);
  const x = tensor3d(prepared.data, [1, prepared.height, prepared.width]);
  const matrices = glcm(x, spec);
  x.dispose();
  const all = (await matrices.data()) as Float32Array;
  matrices.dispose();
  const ll = spec.levels * spec.levels;
  const glcmPerAngle = [0, 1, 2, 3].map((a) => all.slice(a * ll, (a + 1) * ll));
  const glcmMean = new Float32Array(ll);
  for (let i = 0; i < ll; i++) glcmMean[i] = (glcmPerAngle[0]![i]! + glcmPerAngle[1]![i]! + glcmPerAngle[2]![i]! + glcmPerAngle[3]![i]!) / 4;
  const codes = lbpCodes(prepared.data, 0, prepared.height, prepared.width, spec.lbp[0]!, new Int32Array(prepared.width * prepared.height));
  const t3 = performance.now();
  const inSpec = (family: FeatureFamily) => FEATURE_FAMILIES[family].some((f) => spec.features.includes(f));
  return {
    backend,
    fallbackReason: prefer === 'webgl' && backend !== 'webgl' ? webglProblem() : null,
    decoded: { width: decoded.width, height: decoded.height, colour: decoded.colour !== undefined },
    prepared,
    spec,
    values: values!,
    skipped,
    onCpu: FAMILY_KERNELS.filter(([family, kernel]) => inSpec(family) && !runsOnActiveBackend(kernel)).map(([family]) => family),
    glcmPerAngle,
    glcmMean,
    lbpCodes: codes,
    timings: { decodeMs: t1 - t0, resizeMs: t2 - t1, extractMs: t3 - t2, totalMs: t3 - t0 },
    dicom,
    codecs,
  };
}
