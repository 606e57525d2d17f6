
/** The seven features, in the fixed order of the vector (docs/features.md section 4). */
export const FEATURE_NAMES = [
  'hog',
  'hogMean',
  'hogVariance',
  'glcmEnergy',
  'glcmContrast',
  'glcmHomogeneity',
  'glcmCorrelation',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export const SCALAR_FEATURES = FEATURE_NAMES.filter((f) => f !== 'hog') as Exclude<FeatureName, 'hog'>[];

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
}

export const DEFAULT_SPEC: Readonly<FeatureSpec> = Object.freeze({
  features: [...FEATURE_NAMES],
  size: 64,
  levels: 32,
  orientations: 9,
  pixelsPerCell: 8,
  cellsPerBlock: 2,
});

export const wantsHog = (spec: FeatureSpec): boolean =>
  spec.features.includes('hog') || spec.features.includes('hogMean') || spec.features.includes('hogVariance');
export const wantsGlcm = (spec: FeatureSpec): boolean => spec.features.some((f) => f.startsWith('glcm'));

/** The smallest side an image may have after resizing: one HOG block. */
export const minimumSide = (spec: FeatureSpec): number => spec.pixelsPerCell * spec.cellsPerBlock;

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

/** Length of the feature vector for images of the given (resized) size. */
export function vectorLength(spec: FeatureSpec, height: number, width: number): number {
  const hogLength = spec.features.includes('hog') ? hogGeometry(height, width, spec).length : 0;
  return hogLength + spec.features.filter((f) => f !== 'hog').length;
}
