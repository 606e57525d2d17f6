import type { Extraction, FeatureValues } from '../../shared/features/extract.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { FLOAT32_SCALARS } from './output_formats.ts';
import type { TextBytes } from './text_bytes.ts';

const COMMA = 44;

/**
 * A feature's values as text: float32 features (the HOGs, the GLCM scalars) as the shortest
 * decimal that reads back as the same float32, the rest (computed in double) as JSON writes
 * them; a vector's values joined by commas.
 */
export function writeFeature(out: TextBytes, v: FeatureValues[keyof FeatureValues], float32: boolean): void {
  if (typeof v === 'number') {
    if (float32) out.float32(v);
    else out.text(JSON.stringify(v));
  } else if (v instanceof Float32Array) {
    out.float32s(v, COMMA);
  } else if (v !== undefined) {
    for (let i = 0; i < v.length; i++) {
      if (i) out.byte(COMMA);
      out.text(Number.isFinite(v[i]!) ? String(v[i]) : 'null');
    }
  }
}

/** One image in the golden files' format, as JSON. */
export function writeRecordJson(out: TextBytes, name: string, e: Extraction, spec: FeatureSpec): void {
  if (!e.ok) {
    out.text(JSON.stringify({ file: name, width: e.width, height: e.height, error: e.error.message, errorCode: e.error.code }));
    return;
  }
  const head = { file: name, width: e.width, height: e.height, resizedWidth: e.resizedWidth, resizedHeight: e.resizedHeight };
  // Written by hand: JSON.stringify writes a typed array as an object, and a float32 as its
  // double's 17 digits.
  out.text(JSON.stringify(head).slice(0, -1));
  for (const f of spec.features) {
    const v = e.values[f];
    if (v === undefined) continue;
    out.text(`,"${f}":`);
    if (typeof v === 'number') writeFeature(out, v, FLOAT32_SCALARS.has(f));
    else {
      out.byte(91); // [
      writeFeature(out, v, false);
      out.byte(93); // ]
    }
  }
  out.byte(125); // }
}
