import type { FeatureValues } from '../shared/features/extract.ts';
import { SCALAR_FEATURES } from '../shared/features/spec.ts';
import { relativeL2, scalarError, type Tolerance } from '../shared/features/tolerance.ts';
import type { GoldenRecord } from './golden.ts';

/** What is wrong with `values` against a golden record, one line per problem (empty when it passes). */
export function compareToGolden(values: FeatureValues, record: GoldenRecord, tolerance: Tolerance): string[] {
  const problems: string[] = [];
  if (record.hogLength !== undefined && values.hog && values.hog.length !== record.hogLength) {
    problems.push(`hog length ${values.hog.length}, expected ${record.hogLength}`);
  }
  if (record.hog) {
    const err = values.hog ? relativeL2(values.hog, record.hog) : Infinity;
    if (!(err <= tolerance.hogRelativeL2)) problems.push(`hog relative L2 ${err}`);
  }
  for (const name of SCALAR_FEATURES) {
    const expected = record[name];
    if (expected === undefined) continue;
    const actual = values[name];
    const err = actual === undefined ? Infinity : scalarError(actual, expected);
    if (!(err <= tolerance.scalar)) problems.push(`${name} ${actual}, expected ${expected} (error ${err})`);
  }
  return problems.map((p) => `${record.file}: ${p}`);
}
