import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The project's copy of the golden vectors (test/data/golden, see its README). */
export const GOLDEN = join(ROOT, 'test', 'data', 'golden');

/** Real data sets the tests read (attribution in test/data/README.md). */
export type DatasetName = 'breastmnist' | 'retinamnist' | 'dicom';
/** A data set's folder: BreastMNIST is the one the demo service trains on, kept once, beside it. */
export const dataset = (name: DatasetName): string =>
  name === 'breastmnist' ? join(ROOT, 'server', 'demo', 'breastmnist') : join(ROOT, 'test', 'data', 'datasets', name);

/** The first `perLabel` images of each label of a dataset's split, labels and files in name order. */
export function splitImages(set: DatasetName, split: string, perLabel = Infinity): string[] {
  const root = join(dataset(set), split);
  return readdirSync(root)
    .sort()
    .flatMap((label) =>
      readdirSync(join(root, label))
        .sort()
        .slice(0, perLabel)
        .map((f) => join(root, label, f)),
    );
}

export interface GoldenRecord {
  file: string;
  width: number;
  height: number;
  resizedWidth: number;
  resizedHeight: number;
  hog?: number[];
  hogLength?: number;
  hogMean?: number;
  hogVariance?: number;
  glcmEnergy?: number;
  glcmContrast?: number;
  glcmHomogeneity?: number;
  glcmCorrelation?: number;
  resized?: number[];
  quantised?: number[];
  error?: string;
  errorCode?: string;
  /** The families' files (make_golden_families.py): whether the file decodes to colour, and the new features. */
  colour?: boolean;
  hog2?: number[];
  hog2Length?: number;
  lbp?: number[];
  glcmAngles?: number[];
  intensityHistogram?: number[];
  intensityMoments?: number[];
  colourHistogram?: number[];
  colourMoments?: number[];
  gabor?: number[];
}

export interface GoldenFile {
  name: string;
  /** The families' files carry a whole feature spec (features, lbp, glcmDistances, ...). */
  spec: { size: number; levels: number; orientations: number; pixelsPerCell: number; cellsPerBlock: number } & Record<string, unknown>;
  /** The families' files: LBP sampling offsets per "points,radius", as scikit-image rounds them. */
  lbpOffsets?: Record<string, { rows: number[]; cols: number[] }>;
  images: GoldenRecord[];
}

export const GOLDEN_FILES = [
  's0_l32', 's0_l8', 's0_l256', 's0_min_size', 's48_l32', 's64_l32', 's64_l8', 's64_l256',
  's64_l32_o12_p6_b3', 's64_l32_pixels', 's100_l32', 's128_l32', 's128_l8', 's128_l256',
] as const;

/** The golden files of the families added after the seven (test/data/golden/make_golden_families.py). */
export const GOLDEN_FAMILY_FILES = [
  'families_s64', 'families_s0', 'families_s48_l8_b10', 'families_gabor_s48', 'families_gabor_s0', 'families_colour', 'families_colour_s0', 'families_min_size_hog2', 'families_min_size_lbp',
] as const;

export function loadGolden(name: string): GoldenFile {
  return { name, ...JSON.parse(readFileSync(join(GOLDEN, `${name}.json`), 'utf8')) } as GoldenFile;
}

export const goldenImage = (file: string): Uint8Array => new Uint8Array(readFileSync(join(GOLDEN, 'images', file)));
