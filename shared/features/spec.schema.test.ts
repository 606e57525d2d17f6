import { describe, expect, it } from 'vitest';
import { parseFeatureSpec } from './spec.schema.ts';
import { DEFAULT_SPEC, vectorLength } from './spec.ts';

describe('feature spec', () => {
  it('fills defaults and puts features in the fixed order', () => {
    const spec = parseFeatureSpec({ features: ['glcmContrast', 'hog', 'hogMean', 'hog'] });
    expect(spec).toEqual({ ...DEFAULT_SPEC, features: ['hog', 'hogMean', 'glcmContrast'] });
    expect(vectorLength(spec, 64, 64)).toBe(1764 + 2);
  });

  it('round-trips through JSON', () => {
    const spec = parseFeatureSpec({ size: 0, levels: 8 });
    expect(parseFeatureSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it('names every problem', () => {
    expect(() => parseFeatureSpec({ features: [], levels: 1, size: 12.5, colour: 'red' })).toThrow(
      /features: pick at least one feature.*size: .*int.*levels: .*>=2.*Unrecognized key: "colour"/,
    );
    expect(() => parseFeatureSpec({ features: ['sift'] })).toThrow(/features\.0/);
  });
});
