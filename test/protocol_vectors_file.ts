import { join } from 'node:path';
import { PROJECT_ROOT } from '../server/paths.ts';

/** Where the channel's published test vectors live. */
export const VECTORS_FILE_PATH = join(PROJECT_ROOT, 'docs', 'protocol-vectors.json');
