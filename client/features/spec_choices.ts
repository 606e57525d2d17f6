import type { FeatureName } from '../../shared/features/spec.ts';

/** How the web app names the seven features and offers the spec's parameters, on every page. */
export const FEATURE_LABELS: Record<FeatureName, string> = {
  hog: 'HOG vector',
  hogMean: 'HOG mean',
  hogVariance: 'HOG variance',
  glcmEnergy: 'GLCM energy',
  glcmContrast: 'GLCM contrast',
  glcmHomogeneity: 'GLCM homogeneity',
  glcmCorrelation: 'GLCM correlation',
};

/** The values offered for each parameter (0 keeps the image's size; 28 is MedMNIST's). */
export const SPEC_CHOICES = {
  size: [0, 28, 32, 48, 64, 100, 128, 256],
  levels: [8, 16, 32, 64, 128, 256],
  orientations: [6, 8, 9, 12, 18],
  pixelsPerCell: [4, 6, 8, 12, 16],
  cellsPerBlock: [1, 2, 3, 4],
} as const;

export const PARAM_LABELS: Record<keyof typeof SPEC_CHOICES, string> = {
  size: 'Resize to',
  levels: 'GLCM levels',
  orientations: 'HOG orientations',
  pixelsPerCell: 'Pixels per cell',
  cellsPerBlock: 'Cells per block',
};
