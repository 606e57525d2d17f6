import type { Extraction, FeatureValues } from '../shared/features/extract.ts';
import { SCALAR_FEATURES } from '../shared/features/spec.ts';
import { FAMILY_TOLERANCE, HISTOGRAM_FEATURES, relativeL2, scalarError, VALUE_FEATURES, worstValueError, type Tolerance } from '../shared/features/tolerance.ts';
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
  problems.push(...familyProblems(values, record, tolerance));
  return problems.map((p) => `${record.file}: ${p}`);
}

/** The worst error of each family present in a golden record (what the tolerances bound). */
export function familyErrors(values: FeatureValues, record: GoldenRecord): Record<string, number> {
  const errors: Record<string, number> = {};
  if (record.hog2) errors['hog2'] = values.hog2 && values.hog2.length === record.hog2.length ? relativeL2(values.hog2, record.hog2) : Infinity;
  for (const name of [...HISTOGRAM_FEATURES, ...VALUE_FEATURES]) {
    const expected = record[name];
    if (!expected) continue;
    const actual = values[name];
    errors[name] = actual ? worstValueError(actual, expected) : Infinity;
  }
  return errors;
}

function familyProblems(values: FeatureValues, record: GoldenRecord, tolerance: Tolerance): string[] {
  const problems: string[] = [];
  if (record.hog2Length !== undefined && values.hog2?.length !== record.hog2Length) problems.push(`hog2 length ${values.hog2?.length}, expected ${record.hog2Length}`);
  for (const [name, err] of Object.entries(familyErrors(values, record))) {
    const bound = name === 'hog2' ? tolerance.hogRelativeL2 : (HISTOGRAM_FEATURES as readonly string[]).includes(name) ? FAMILY_TOLERANCE.histogram : FAMILY_TOLERANCE.value;
    if (!(err <= bound)) problems.push(`${name} error ${err} (bound ${bound})`);
  }
  return problems;
}

/**
 * What is wrong with one extraction against its golden record: a refusal must be the
 * golden one, word for word; an accepted image must have the golden sizes and features.
 */
export function extractionProblems(result: Extraction, record: GoldenRecord, tolerance: Tolerance): string[] {
  if (record.error) {
    if (result.ok) return [`${record.file}: accepted, expected refusal`];
    if (result.error.code !== record.errorCode || result.error.message !== record.error) {
      return [`${record.file}: refused with ${result.error.code} "${result.error.message}", expected ${record.errorCode} "${record.error}"`];
    }
    return [];
  }
  if (!result.ok) return [`${record.file}: refused: ${result.error.message}`];
  const sizes = [result.width, result.height, result.resizedWidth, result.resizedHeight];
  const expected = [record.width, record.height, record.resizedWidth, record.resizedHeight];
  if (sizes.join() !== expected.join()) return [`${record.file}: sizes ${sizes.join(', ')}, expected ${expected.join(', ')}`];
  return compareToGolden(result.values, record, tolerance);
}
