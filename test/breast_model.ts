/**
 * The BreastMNIST model that several server tests publish (`medclass train` on the bundled
 * splits, default settings at the images' own size), trained once per content of the code that
 * trains it and kept by test/build_cache.ts. Copy it before changing it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../server/paths.ts';
import { cachedOutput } from './build_cache.ts';
import { dataset } from './golden.ts';

/** What `medclass train` reads (its code; the data are under server/demo). */
export const TRAINING_INPUTS = ['server', 'shared', 'package-lock.json'];

const exec = promisify(execFile);

/** The path of `medclass train <breastmnist> --size 0`'s model file. */
export async function breastModel(): Promise<string> {
  const dir = await cachedOutput('breast-model', TRAINING_INPUTS, async (out) => {
    await exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), 'train', dataset('breastmnist'), '--size', '0', '--out', join(out, 'model.json')], { cwd: PROJECT_ROOT });
  });
  return join(dir, 'model.json');
}
