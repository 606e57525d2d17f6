import { describe, expect, it } from 'vitest';
import { featureSpecSchema, parseFeatureSpec } from './spec.schema.ts';
import { DEFAULT_SPEC, FEATURE_FAMILIES, FEATURE_NAMES, PIXEL_FEATURES, vectorLength } from './spec.ts';

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

  it('reads a spec saved before the families as it always meant: the seven, the same vector', () => {
    const old = { features: ['hog', 'glcmContrast'], size: 32, levels: 8, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 };
    expect(featureSpecSchema.safeParse(old).success).toBe(true); // a service's spec on the wire
    const spec = parseFeatureSpec(old);
    expect(spec).toEqual({ ...old, pixelsPerCell2: 16, lbp: DEFAULT_SPEC.lbp, glcmDistances: [1, 2, 3], histogramBins: 32, gaborFrequencies: [0.1, 0.2, 0.4], gaborOrientations: 4 });
    expect(vectorLength(spec, 32, 32)).toBe(324 + 1);
    expect(parseFeatureSpec({}).features).toEqual(FEATURE_NAMES.slice(0, 7));
  });

  it('lays the families out after the seven, with their lengths', () => {
    const spec = parseFeatureSpec({ features: [...FEATURE_NAMES].reverse(), lbp: [{ method: 'uniform', points: 8, radius: 1 }, { method: 'default', points: 4, radius: 2 }], glcmDistances: [1, 4], histogramBins: 10 });
    expect(spec.features).toEqual(FEATURE_NAMES);
    // hog 1764, 6 scalars, hog2 (16 px cells: 3x3 blocks) 324, lbp 10 + 16, glcmAngles 6 x 2 x 4, histograms 10 and 30, moments 5 and 15, gabor 2 x 3 x 4,
    // the image itself: grey 64 x 64, colour 3 x 64 x 64
    expect(vectorLength(spec, 64, 64)).toBe(1764 + 6 + 324 + 26 + 48 + 10 + 5 + 30 + 15 + 24 + 4096 + 3 * 4096);
    // the pixels are the CNN's input, not a family a tuner picks for the SVM or KNN
    expect(Object.values(FEATURE_FAMILIES).flat().sort()).toEqual(FEATURE_NAMES.filter((f) => !(PIXEL_FEATURES as readonly string[]).includes(f)).sort());
  });

  it('names what is wrong with the family settings', () => {
    expect(() => parseFeatureSpec({ lbp: [{ method: 'uniform', points: 8, radius: 0.1 }], glcmDistances: [], pixelsPerCell2: 1, histogramBins: 300 })).toThrow(
      /pixelsPerCell2: .*lbp\.0\.radius: a radius must be exact in float32.*glcmDistances: give at least one GLCM distance.*histogramBins: /,
    );
    expect(() => parseFeatureSpec({ lbp: [] })).toThrow(/lbp: give at least one LBP/);
    expect(() => parseFeatureSpec({ lbp: [{ method: 'default', points: 8, radius: 1 }, { method: 'default', points: 8, radius: 1 }] })).toThrow(/LBP settings must not repeat/);
  });
});
