/** Kernel names and attributes of the feature ops, as tfjs-core's kernel_names.ts does for its own. */
export const HOG = 'MedclassHog';
export const GLCM = 'MedclassGlcm';
export const GLCM_FEATURES = 'MedclassGlcmFeatures';

export interface HogAttrs {
  orientations: number;
  pixelsPerCell: number;
  cellsPerBlock: number;
}

export interface GlcmAttrs {
  levels: number;
}

export const LBP = 'MedclassLbp';
export const GLCM_ANGLES = 'MedclassGlcmAngles';
export const HISTOGRAM = 'MedclassHistogram';
export const MOMENTS = 'MedclassMoments';

export interface LbpAttrs {
  lbp: readonly { method: 'uniform' | 'default'; points: number; radius: number }[];
}

export interface GlcmAnglesAttrs {
  levels: number;
  distances: readonly number[];
}

export interface HistogramAttrs {
  bins: number;
}

export const GABOR = 'MedclassGabor';

export interface GaborAttrs {
  frequencies: readonly number[];
  orientations: number;
}
