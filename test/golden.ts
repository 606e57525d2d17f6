import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The material handed to the project, beside the checkout (`../shared`). */
export const SHARED = resolve(process.env['MEDCLASS_SHARED'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'));
export const GOLDEN = join(SHARED, 'golden');
export const DATASETS = join(SHARED, 'datasets');

/** The first `perLabel` images of each label of a dataset's split, labels and files in name order. */
export function splitImages(set: string, split: string, perLabel = Infinity): string[] {
  const root = join(DATASETS, set, split);
  return readdirSync(root)
    .sort()
    .flatMap((label) =>
      readdirSync(join(root, label))
        .sort()
        .slice(0, perLabel)
        .map((f) => join(root, label, f)),
    );
}

if (!existsSync(GOLDEN)) throw new Error(`golden vectors not found at ${GOLDEN} (set MEDCLASS_SHARED)`);

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
}

export interface GoldenFile {
  name: string;
  spec: { size: number; levels: number; orientations: number; pixelsPerCell: number; cellsPerBlock: number };
  images: GoldenRecord[];
}

export const GOLDEN_FILES = [
  's0_l32', 's0_l8', 's0_l256', 's0_min_size', 's48_l32', 's64_l32', 's64_l8', 's64_l256',
  's64_l32_o12_p6_b3', 's64_l32_pixels', 's100_l32', 's128_l32', 's128_l8', 's128_l256',
] as const;

export function loadGolden(name: string): GoldenFile {
  return { name, ...JSON.parse(readFileSync(join(GOLDEN, `${name}.json`), 'utf8')) } as GoldenFile;
}

export const goldenImage = (file: string): Uint8Array => new Uint8Array(readFileSync(join(GOLDEN, 'images', file)));
