import { DEFAULT_SPEC, type FeatureName, type LbpConfig } from '../../shared/features/spec.ts';

/** How the web app names the features and offers the spec's parameters, on every page. */
export const FEATURE_LABELS: Record<FeatureName, string> = {
  hog: 'HOG vector',
  hogMean: 'HOG mean',
  hogVariance: 'HOG variance',
  glcmEnergy: 'GLCM energy',
  glcmContrast: 'GLCM contrast',
  glcmHomogeneity: 'GLCM homogeneity',
  glcmCorrelation: 'GLCM correlation',
  hog2: 'HOG vector at the second cell size',
  lbp: 'LBP histograms',
  glcmAngles: 'GLCM per distance and angle (6 properties)',
  intensityHistogram: 'Intensity histogram',
  intensityMoments: 'Intensity moments and entropy',
  colourHistogram: 'Colour histograms (R, G, B; colour images only)',
  colourMoments: 'Colour moments and entropy (R, G, B; colour images only)',
  gabor: 'Gabor filter-bank energies',
  pixels: 'The resized grey image (a CNN input)',
  colourPixels: 'The resized colour planes (R, G, B; a CNN input; colour images only)',
};

/** The values offered for each parameter (0 keeps the image's size; 28 is MedMNIST's). */
export const SPEC_CHOICES = {
  size: [0, 28, 32, 48, 64, 100, 128, 256],
  levels: [8, 16, 32, 64, 128, 256],
  orientations: [6, 8, 9, 12, 18],
  pixelsPerCell: [4, 6, 8, 12, 16],
  cellsPerBlock: [1, 2, 3, 4],
  pixelsPerCell2: [4, 6, 8, 12, 16, 24, 32],
  histogramBins: [8, 16, 32, 64, 128, 256],
} as const;

export const PARAM_LABELS: Record<keyof typeof SPEC_CHOICES, string> = {
  size: 'Resize to',
  levels: 'GLCM levels',
  orientations: 'HOG orientations',
  pixelsPerCell: 'Pixels per cell',
  cellsPerBlock: 'Cells per block',
  pixelsPerCell2: 'Second HOG: pixels per cell',
  histogramBins: 'Histogram bins',
};

const lbpLabel = (list: readonly LbpConfig[]) => list.map((c) => `${c.method} P ${c.points} R ${c.radius}`).join('; ');
const uniform = (points: number, radius: number): LbpConfig => ({ method: 'uniform', points, radius });

/**
 * The list-valued parameters, offered as a few named sets (the CLI and the channel take any
 * list the spec allows). The first of each is the default.
 */
export const LIST_CHOICES = {
  lbp: ([
    DEFAULT_SPEC.lbp,
    [uniform(8, 1)],
    [uniform(8, 1), uniform(16, 2)],
    [uniform(8, 1), { method: 'default' as const, points: 8, radius: 1 }],
    [uniform(8, 1), uniform(8, 2), uniform(8, 3)],
  ] as LbpConfig[][]).map((value) => ({ label: lbpLabel(value), value })),
  glcmDistances: [DEFAULT_SPEC.glcmDistances, [1], [1, 2], [1, 2, 4, 8]].map((value) => ({ label: value.join(', '), value })),
} as const;

export const LIST_LABELS: Record<keyof typeof LIST_CHOICES, string> = {
  lbp: 'LBP (method, points P, radius R)',
  glcmDistances: 'GLCM distances',
};
