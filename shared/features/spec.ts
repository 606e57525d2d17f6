import { z } from 'zod';
import { MedclassError } from '../errors.ts';

/** The seven features, in the fixed order of the vector (FEATURES.md section 4). */
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

/** The largest side an extraction works at; bigger inputs are resized down first. */
export const MAX_SIZE = 1024;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/**
 * A feature spec: what is extracted and with which parameters. It is saved with every
 * model, so a service always extracts exactly what its model was trained on.
 */
export const featureSpecSchema = z
  .object({
    features: z
      .array(z.enum(FEATURE_NAMES))
      .min(1, 'pick at least one feature')
      .transform((list) => FEATURE_NAMES.filter((f) => list.includes(f))),
    /** Side of the square the image is resized to; 0 keeps the decoded size. */
    size: int(0, MAX_SIZE),
    levels: int(2, 256),
    orientations: int(2, 36),
    pixelsPerCell: int(2, 64),
    cellsPerBlock: int(1, 8),
  })
  .strict();

export type FeatureSpec = z.output<typeof featureSpecSchema>;
export type FeatureSpecInput = Partial<z.input<typeof featureSpecSchema>>;

export const DEFAULT_SPEC: FeatureSpec = Object.freeze({
  features: [...FEATURE_NAMES],
  size: 64,
  levels: 32,
  orientations: 9,
  pixelsPerCell: 8,
  cellsPerBlock: 2,
}) as FeatureSpec;

/** Validates a (possibly partial) spec, filling in the defaults; every problem is named in the error. */
export function parseFeatureSpec(input: unknown): FeatureSpec {
  const merged = typeof input === 'object' && input !== null ? { ...DEFAULT_SPEC, ...input } : input;
  const result = featureSpecSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`);
    throw new MedclassError('invalidSpec', `invalid feature spec: ${problems.join('; ')}`);
  }
  return result.data;
}

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
