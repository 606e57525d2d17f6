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
