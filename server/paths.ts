import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** The package's root: this file is server/paths.ts in the sources and dist/server/paths.js in the build. */
export const PROJECT_ROOT = resolve(dirname(here), here.endsWith('.ts') ? '..' : '../..');
export const CLIENT_DIR = join(PROJECT_ROOT, 'dist', 'client');
