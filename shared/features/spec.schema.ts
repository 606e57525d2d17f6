import { z } from 'zod';
import { MedclassError } from '../errors.ts';
import { DEFAULT_SPEC, FEATURE_NAMES, MAX_SIZE, type FeatureSpec } from './spec.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const lbpConfigSchema = z
  .object({
    method: z.enum(['uniform', 'default']),
    points: int(4, 24),
    /** scikit-image takes R as a C float: only radii a float32 holds exactly. */
    radius: z
      .number()
      .positive()
      .max(16)
      .refine((r) => Math.fround(r) === r, 'a radius must be exact in float32 (for example 1, 1.5, 2.25)'),
  })
  .strict()
  .refine((c) => c.method === 'uniform' || c.points <= 8, { message: "method 'default' has 2^P bins: at most 8 points", path: ['points'] });

const distinct = <T>(list: readonly T[], key: (x: T) => string) => new Set(list.map(key)).size === list.length;

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
    // The keys below came after the seven features: a spec without them (a saved model's, a
    // service's) is valid, and parseFeatureSpec gives it the defaults, which only the new
    // families use, so it extracts what it always did.
    pixelsPerCell2: int(2, 64).optional(),
    lbp: z
      .array(lbpConfigSchema)
      .min(1, 'give at least one LBP (method, points, radius)')
      .max(8)
      .refine((l) => distinct(l, (c) => `${c.method} ${c.points} ${c.radius}`), 'LBP settings must not repeat')
      .optional(),
    glcmDistances: z
      .array(int(1, 64))
      .min(1, 'give at least one GLCM distance')
      .max(8)
      .refine((l) => distinct(l, String), 'GLCM distances must not repeat')
      .optional(),
    histogramBins: int(2, 256).optional(),
    gaborFrequencies: z
      .array(z.number().min(0.02).max(0.5))
      .min(1, 'give at least one Gabor frequency')
      .max(6)
      .refine((l) => distinct(l, String), 'Gabor frequencies must not repeat')
      .optional(),
    gaborOrientations: int(1, 16).optional(),
  })
  .strict();

export type FeatureSpecInput = Partial<z.input<typeof featureSpecSchema>>;

/** Validates a (possibly partial) spec, filling in the defaults; every problem is named in the error. */
export function parseFeatureSpec(input: unknown): FeatureSpec {
  const merged = typeof input === 'object' && input !== null ? { ...DEFAULT_SPEC, ...input } : input;
  const result = featureSpecSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`);
    throw new MedclassError('invalidSpec', `invalid feature spec: ${problems.join('; ')}`);
  }
  // every key is there: the defaults were merged in before parsing
  return result.data as FeatureSpec;
}

