import type { Command } from 'commander';
import { FEATURE_NAMES, DEFAULT_SPEC } from '../../shared/features/spec.ts';

/** The feature-spec options shared by every command that extracts features. */
export function addSpecOptions(command: Command): Command {
  return command
    .option('--size <n>', `side of the square images are resized to, 0 keeps their size (default ${DEFAULT_SPEC.size})`)
    .option('--levels <n>', `GLCM grey levels (default ${DEFAULT_SPEC.levels})`)
    .option('--orientations <n>', `HOG orientation bins (default ${DEFAULT_SPEC.orientations})`)
    .option('--pixels-per-cell <n>', `HOG cell side in pixels (default ${DEFAULT_SPEC.pixelsPerCell})`)
    .option('--cells-per-block <n>', `HOG block side in cells (default ${DEFAULT_SPEC.cellsPerBlock})`)
    .option('--features <list>', `comma-separated subset of ${FEATURE_NAMES.join(',')} (default all)`);
}
