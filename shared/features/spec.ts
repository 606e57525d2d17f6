
/**
 * Every feature, in the fixed order of the vector (docs/features.md section 4): the seven
 * of the paper, then the families added after them. New names only ever go at the end, so
 * an old spec's vector keeps its layout.
 */
export const FEATURE_NAMES = [
  'hog',
  'hogMean',
  'hogVariance',
  'glcmEnergy',
  'glcmContrast',
  'glcmHomogeneity',
  'glcmCorrelation',
  'hog2',
  'lbp',
  'glcmAngles',
  'intensityHistogram',
  'intensityMoments',
  'colourHistogram',
  'colourMoments',
  'gabor',
  'pixels',
  'colourPixels',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
/** The features that are one number each; the others are vectors. */
export const SCALAR_FEATURES = ['hogMean', 'hogVariance', 'glcmEnergy', 'glcmContrast', 'glcmHomogeneity', 'glcmCorrelation'] as const;
export type ScalarFeature = (typeof SCALAR_FEATURES)[number];
export type VectorFeature = Exclude<FeatureName, ScalarFeature>;
export const VECTOR_FEATURES = FEATURE_NAMES.filter((f) => !(SCALAR_FEATURES as readonly string[]).includes(f)) as VectorFeature[];

/**
 * Features grouped as a tuner picks them: each family is one choice, and any non-empty
 * union of families is a valid `features` list. `colour` applies to colour images only.
 */
export const FEATURE_FAMILIES = {
  hog: ['hog'],
  hogStats: ['hogMean', 'hogVariance'],
  glcm: ['glcmEnergy', 'glcmContrast', 'glcmHomogeneity', 'glcmCorrelation'],
  hog2: ['hog2'],
  lbp: ['lbp'],
  glcmAngles: ['glcmAngles'],
  intensity: ['intensityHistogram', 'intensityMoments'],
  colour: ['colourHistogram', 'colourMoments'],
  gabor: ['gabor'],
} as const satisfies Record<string, readonly FeatureName[]>;
export type FeatureFamily = keyof typeof FEATURE_FAMILIES;

/** The GLCM properties of `glcmAngles`, in their order in the vector (scikit-image's names). */
export const GLCM_ANGLE_PROPERTIES = ['contrast', 'dissimilarity', 'homogeneity', 'ASM', 'energy', 'correlation'] as const;
/** The moments of `intensityMoments` and of each channel of `colourMoments`, in their order. */
export const MOMENT_NAMES = ['mean', 'variance', 'skewness', 'kurtosis', 'entropy'] as const;

/** One LBP histogram: scikit-image's `local_binary_pattern(image, points, radius, method)`. */
export interface LbpConfig {
  method: 'uniform' | 'default';
  points: number;
  radius: number;
}
/** Bins of one LBP histogram: codes 0 to P + 1 for `uniform`, 0 to 2^P - 1 for `default`. */
export const lbpBins = (c: LbpConfig): number => (c.method === 'uniform' ? c.points + 2 : 2 ** c.points);

/** The largest `size` a spec may ask for. */
export const MAX_SIZE = 1024;

/**
 * A feature spec: what is extracted and with which parameters. It is saved with every
 * model, so a service always extracts exactly what its model was trained on.
 * Validated by `parseFeatureSpec` (spec.schema.ts).
 */
export interface FeatureSpec {
  /** Non-empty, in the fixed order of FEATURE_NAMES. */
  features: FeatureName[];
  /** Side of the square the image is resized to; 0 keeps the decoded size. */
  size: number;
  levels: number;
  orientations: number;
  pixelsPerCell: number;
  cellsPerBlock: number;
  /** `hog2`: the second HOG's cell side (its orientations and blocks are the first's). */
  pixelsPerCell2: number;
  /** `lbp`: one histogram per entry, concatenated in this order. */
  lbp: LbpConfig[];
  /** `glcmAngles`: the distances, each at 0, 45, 90 and 135 degrees (the four averaged GLCM features stay at distance 1). */
  glcmDistances: number[];
  /** Bins of `intensityHistogram`, `colourHistogram` and of the entropies in the moments. */
  histogramBins: number;
  /** `gabor`: the filter bank's frequencies (cycles per pixel), each at `gaborOrientations` angles k pi / n. */
  gaborFrequencies: number[];
  gaborOrientations: number;
}

/**
 * Defaults. `features` is the seven (what a spec without it has always meant); the keys
 * after `cellsPerBlock` only matter to the families that use them, so an old spec, which
 * lacks them, extracts exactly what it always did.
 */
export const DEFAULT_SPEC: Readonly<FeatureSpec> = Object.freeze<FeatureSpec>({
  features: FEATURE_NAMES.slice(0, 7),
  size: 64,
  levels: 32,
  orientations: 9,
  pixelsPerCell: 8,
  cellsPerBlock: 2,
  pixelsPerCell2: 16,
  lbp: [
    { method: 'uniform', points: 8, radius: 1 },
    { method: 'uniform', points: 16, radius: 2 },
    { method: 'uniform', points: 24, radius: 3 },
  ],
  glcmDistances: [1, 2, 3],
  histogramBins: 32,
  gaborFrequencies: [0.1, 0.2, 0.4],
  gaborOrientations: 4,
});

export const wantsHog = (spec: FeatureSpec): boolean =>
  spec.features.includes('hog') || spec.features.includes('hogMean') || spec.features.includes('hogVariance');
export const wantsGlcm = (spec: FeatureSpec): boolean =>
  spec.features.includes('glcmEnergy') || spec.features.includes('glcmContrast') || spec.features.includes('glcmHomogeneity') || spec.features.includes('glcmCorrelation');
export const wantsColour = (spec: FeatureSpec): boolean =>
  spec.features.includes('colourHistogram') || spec.features.includes('colourMoments') || spec.features.includes('colourPixels');
/** The resized image itself (a CNN's input): grey, or the R, G and B planes one after the other. */
export const PIXEL_FEATURES = ['pixels', 'colourPixels'] as const satisfies readonly FeatureName[];

/** The smallest side an image may have after resizing: one HOG block (whatever the features). */
export const minimumSide = (spec: FeatureSpec): number => spec.pixelsPerCell * spec.cellsPerBlock;
/** `hog2` needs one block of its cells. */
export const minimumSideHog2 = (spec: FeatureSpec): number => spec.pixelsPerCell2 * spec.cellsPerBlock;
/** `lbp` needs one pixel whose whole circle lies inside the image: a side of at least 2R + 1 for the largest R. */
export const minimumSideLbp = (spec: FeatureSpec): number => Math.ceil(2 * Math.max(...spec.lbp.map((c) => c.radius)) + 1);

export interface HogGeometry {
  cellsY: number;
  cellsX: number;
  blocksY: number;
  blocksX: number;
  length: number;
}

export function hogGeometry(height: number, width: number, p: { orientations: number; pixelsPerCell: number; cellsPerBlock: number }): HogGeometry {
  const cellsY = Math.floor(height / p.pixelsPerCell);
  const cellsX = Math.floor(width / p.pixelsPerCell);
  const blocksY = Math.max(0, cellsY - p.cellsPerBlock + 1);
  const blocksX = Math.max(0, cellsX - p.cellsPerBlock + 1);
  return { cellsY, cellsX, blocksY, blocksX, length: blocksY * blocksX * p.cellsPerBlock ** 2 * p.orientations };
}

/** Length of one feature of the vector for images of the given (resized) size. */
export function featureLength(name: FeatureName, spec: FeatureSpec, height: number, width: number): number {
  switch (name) {
    case 'hog':
      return hogGeometry(height, width, spec).length;
    case 'hog2':
      return hogGeometry(height, width, { ...spec, pixelsPerCell: spec.pixelsPerCell2 }).length;
    case 'lbp':
      return spec.lbp.reduce((n, c) => n + lbpBins(c), 0);
    case 'glcmAngles':
      return GLCM_ANGLE_PROPERTIES.length * spec.glcmDistances.length * 4;
    case 'intensityHistogram':
      return spec.histogramBins;
    case 'intensityMoments':
      return MOMENT_NAMES.length;
    case 'colourHistogram':
      return 3 * spec.histogramBins;
    case 'colourMoments':
      return 3 * MOMENT_NAMES.length;
    case 'gabor':
      return 2 * spec.gaborFrequencies.length * spec.gaborOrientations;
    case 'pixels':
      return height * width;
    case 'colourPixels':
      return 3 * height * width;
    default:
      return 1;
  }
}

/** Length of the feature vector for images of the given (resized) size. */
export function vectorLength(spec: FeatureSpec, height: number, width: number): number {
  return spec.features.reduce((n, f) => n + featureLength(f, spec, height, width), 0);
}
