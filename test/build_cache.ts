/**
 * Outputs that many test files need and that take seconds of CPU to make (the web app's
 * production build, the end-to-end tests' trained model), made once per content of their
 * inputs and kept under node_modules/.cache/medclass-test: `npm test` runs its files one or two
 * at a time on a 2-core machine, and every file making its own copy cost minutes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../server/paths.ts';

const CACHE = join(PROJECT_ROOT, 'node_modules', '.cache', 'medclass-test');

/** A digest of the names and contents of every file under `inputs` (project-relative paths). */
function digest(inputs: readonly string[]): string {
  const h = createHash('sha256');
  for (const input of inputs) {
    const full = join(PROJECT_ROOT, input);
    const files = statSync(full).isDirectory()
      ? readdirSync(full, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name))
          .sort()
      : [full];
    for (const f of files) h.update(relative(PROJECT_ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 20);
}

/**
 * The folder that `make` fills, made at most once per digest of `inputs`. Test files share it:
 * copy before changing anything in it. Concurrent makers are harmless: each writes its own
 * folder and the first rename wins.
 */
export async function cachedOutput(name: string, inputs: readonly string[], make: (dir: string) => Promise<void>): Promise<string> {
  const key = `${name}-${digest(inputs)}`;
  const dir = join(CACHE, key);
  if (existsSync(dir)) return dir;
  mkdirSync(CACHE, { recursive: true });
  const scratch = join(CACHE, `.${key}-${process.pid}-${Date.now()}`);
  mkdirSync(scratch);
  try {
    await make(scratch);
    // this name's older digests only: `webapp-` must not take `webapp-model-...` with it
    const mine = (old: string) => old.startsWith(`${name}-`) && /^[0-9a-f]{20}$/.test(old.slice(name.length + 1));
    for (const old of readdirSync(CACHE)) if (mine(old) && old !== key) rmSync(join(CACHE, old), { recursive: true, force: true });
    renameSync(scratch, dir);
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    if (!existsSync(dir)) throw e;
  }
  return dir;
}
