import { FEATURE_NAMES, featureLength, type FeatureName, type FeatureSpec } from '../features/spec.ts';
import { matrix, type Matrix } from './linalg.ts';

/**
 * A spec's vector is its features' blocks in the fixed order of FEATURE_NAMES, and a block's
 * length depends only on the spec's parameters, never on which other features are there. So
 * the vector of a spec restricted to some of its features is a column slice of the full one:
 * --auto extracts every family once per size and assembles each candidate set from columns.
 */

/** The spec with only `features` (kept in the vector's order); every other parameter as it was. */
export function restrictSpec(spec: FeatureSpec, features: readonly FeatureName[]): FeatureSpec {
  const missing = features.filter((f) => !spec.features.includes(f));
  if (missing.length) throw new Error(`restrictSpec: ${missing.join(', ')} not in the spec`);
  return { ...spec, features: FEATURE_NAMES.filter((f) => features.includes(f)) };
}

/** The columns of `spec`'s vector (images of height x width after resizing) that hold `features`. */
export function featureColumns(spec: FeatureSpec, features: readonly FeatureName[], height: number, width: number): Int32Array {
  const out: number[] = [];
  let o = 0;
  for (const f of spec.features) {
    const n = featureLength(f, spec, height, width);
    if (features.includes(f)) for (let j = 0; j < n; j++) out.push(o + j);
    o += n;
  }
  return Int32Array.from(out);
}

/** The columns `cols` of every row of m. */
export function takeColumns(m: Matrix, cols: Int32Array): Matrix {
  const d = cols.length;
  const out = new Float64Array(m.rows * d);
  for (let i = 0; i < m.rows; i++) {
    const base = i * m.cols;
    for (let j = 0; j < d; j++) out[i * d + j] = m.data[base + cols[j]!]!;
  }
  return matrix(m.rows, d, out);
}
