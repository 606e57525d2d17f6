import type { Command } from 'commander';
import { DEFAULT_SPEC, FEATURE_FAMILIES, FEATURE_NAMES } from '../../shared/features/spec.ts';

const lbpList = (list: readonly { method: string; points: number; radius: number }[]) => list.map((c) => `${c.method}:${c.points}:${c.radius}`).join(',');

/** The feature-spec options shared by every command that extracts features. */
export function addSpecOptions(command: Command): Command {
  return command
    .option('--size <n>', `side of the square images are resized to, 0 keeps their size (default ${DEFAULT_SPEC.size})`)
    .option('--levels <n>', `GLCM grey levels (default ${DEFAULT_SPEC.levels})`)
    .option('--orientations <n>', `HOG orientation bins (default ${DEFAULT_SPEC.orientations})`)
    .option('--pixels-per-cell <n>', `HOG cell side in pixels (default ${DEFAULT_SPEC.pixelsPerCell})`)
    .option('--cells-per-block <n>', `HOG block side in cells (default ${DEFAULT_SPEC.cellsPerBlock})`)
    .option('--pixels-per-cell2 <n>', `hog2: the second HOG's cell side (default ${DEFAULT_SPEC.pixelsPerCell2})`)
    .option('--lbp <list>', `lbp: histograms as method:points:radius, comma-separated, method uniform or default (default ${lbpList(DEFAULT_SPEC.lbp)})`)
    .option('--glcm-distances <list>', `glcmAngles: comma-separated pixel distances (default ${DEFAULT_SPEC.glcmDistances.join(',')})`)
    .option('--gabor-frequencies <list>', `gabor: comma-separated frequencies in cycles per pixel (default ${DEFAULT_SPEC.gaborFrequencies.join(',')})`)
    .option('--gabor-orientations <n>', `gabor: angles per frequency, k pi / n (default ${DEFAULT_SPEC.gaborOrientations})`)
    .option('--histogram-bins <n>', `bins of the intensity and colour histograms and entropies (default ${DEFAULT_SPEC.histogramBins})`)
    .option(
      '--features <list>',
      `comma-separated subset of ${FEATURE_NAMES.join(',')}, or of the family names ${Object.keys(FEATURE_FAMILIES).join(',')} ` +
        `(default the seven: ${DEFAULT_SPEC.features.join(',')})`,
    );
}
