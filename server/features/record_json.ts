import type { Extraction, FeatureValues } from '../../shared/features/extract.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { float32Text } from './float32_text.ts';

/**
 * A feature's values as text: float32 features (the HOGs, the GLCM scalars) as the shortest
 * decimal that reads back as the same float32, the rest (computed in double) as JSON writes
 * them. `separator` joins a vector's values.
 */
export function featureText(v: FeatureValues[keyof FeatureValues], separator: string, float32: boolean): string {
  if (typeof v === 'number') return float32 ? float32Text(v) : JSON.stringify(v);
  if (v === undefined) return '';
  let text = '';
  if (v instanceof Float32Array) {
    for (let i = 0; i < v.length; i++) text += (i ? separator : '') + float32Text(v[i]!);
  } else {
    for (let i = 0; i < v.length; i++) text += (i ? separator : '') + (Number.isFinite(v[i]!) ? String(v[i]) : 'null');
  }
  return text;
}

/** The scalar features that are float32 values (from a float32 kernel output); hogMean and hogVariance are doubles. */
export const FLOAT32_SCALARS = new Set(['glcmEnergy', 'glcmContrast', 'glcmHomogeneity', 'glcmCorrelation']);

/** One image in the golden files' format, as a JSON string. */
export function recordJson(name: string, e: Extraction, spec: FeatureSpec): string {
  if (!e.ok) {
    return JSON.stringify({ file: name, width: e.width, height: e.height, error: e.error.message, errorCode: e.error.code });
  }
  const head = { file: name, width: e.width, height: e.height, resizedWidth: e.resizedWidth, resizedHeight: e.resizedHeight };
  // Written by hand: JSON.stringify writes a typed array as an object, and a float32 as its
  // double's 17 digits.
  let text = JSON.stringify(head).slice(0, -1);
  for (const f of spec.features) {
    const v = e.values[f];
    if (v === undefined) continue;
    text += typeof v === 'number' ? `,"${f}":${featureText(v, ',', FLOAT32_SCALARS.has(f))}` : `,"${f}":[${featureText(v, ',', false)}]`;
  }
  return `${text}}`;
}
