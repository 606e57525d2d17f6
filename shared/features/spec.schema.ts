import { z } from 'zod';
import { MedclassError } from '../errors.ts';
import { DEFAULT_SPEC, FEATURE_NAMES, MAX_SIZE, type FeatureSpec } from './spec.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

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

export type FeatureSpecInput = Partial<z.input<typeof featureSpecSchema>>;

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

