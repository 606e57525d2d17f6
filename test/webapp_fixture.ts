/**
 * A real MedClass server for the web app's end-to-end tests: a model trained on BreastMNIST
 * (classes renamed `malignant` and `benign`, so that labels are words a test can look for),
 * published as the service `demo`, a clinician `nurse`, the labels `medclass predict` gives
 * the test images, and the web app freshly built and served by the server itself.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'vite';
import { PROJECT_ROOT } from '../server/paths.ts';
import { createLogger } from '../server/log.ts';
import { createMedclassServer, type MedclassServer } from '../server/server.ts';
import { loadOrCreateIdentity, pinString } from '../server/identity_file.ts';
import { TRAINING_INPUTS } from './breast_model.ts';
import { cachedOutput } from './build_cache.ts';
import { dataset } from './golden.ts';
import { ADMIN_PASSWORD } from './server_process.ts';

const exec = promisify(execFile);
export const CLINICIAN = { username: 'nurse', password: 'a clinician password' };
export const ADMIN = { username: 'admin', password: ADMIN_PASSWORD };
export const LABELS = ['malignant', 'benign'];
export const SERVICE = 'demo';

export function medclass(args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
  });
}

/** The first `perClass` BreastMNIST test images of each class (file names are unique across classes). */
export function testImages(perClass: number): string[] {
  return ['0', '1'].flatMap((label) =>
    readdirSync(join(dataset('breastmnist'), 'test', label))
      .sort((a, b) => parseInt(a) - parseInt(b))
      .slice(0, perClass)
      .map((f) => join(dataset('breastmnist'), 'test', label, f)),
  );
}

export interface Webapp {
  url: string;
  dataDir: string;
  clientDir: string;
  /** The training folder of the published model (shared by the test files: read it only). */
  breast: string;
  server: MedclassServer;
  /** `medclass predict`'s label for each image, by file name. */
  expected: Map<string, string>;
  work: string;
  stop(): Promise<void>;
}

let building: Promise<unknown> = Promise.resolve();

/** What the web app's build reads. */
const WEBAPP_INPUTS = ['client', 'shared', 'vite.config.ts', 'tsconfig.json', 'package-lock.json'];

/** The fixture's training folder (BreastMNIST's training split, 0 named malignant, 1 benign) and its model. */
async function trainedModel(): Promise<{ breast: string; model: string }> {
  const dir = await cachedOutput('webapp-model', TRAINING_INPUTS, async (out) => {
    const breast = join(out, 'breast');
    mkdirSync(join(breast, 'train'), { recursive: true });
    cpSync(join(dataset('breastmnist'), 'train', '0'), join(breast, 'train', 'malignant'), { recursive: true });
    cpSync(join(dataset('breastmnist'), 'train', '1'), join(breast, 'train', 'benign'), { recursive: true });
    await medclass(['train', breast, '--size', '0', '--out', join(out, 'model.json')]);
  });
  return { breast: join(dir, 'breast'), model: join(dir, 'model.json') };
}

/**
 * Puts the web app's production build in `clientDir` (a copy of the one kept per content of its
 * sources); with `builtIn`, a fresh build that carries the server's pin and address
 * (MEDCLASS_PIN, MEDCLASS_SERVER). One build at a time: the variables are process-wide.
 */
export function buildWebapp(clientDir: string, builtIn?: { pin: string; server: string }): Promise<void> {
  const run = building.then(async () => {
    if (builtIn) return buildOne(clientDir, builtIn);
    cpSync(await cachedOutput('webapp', WEBAPP_INPUTS, (dir) => buildOne(dir)), clientDir, { recursive: true });
  });
  building = run.catch(() => undefined);
  return run;
}

async function buildOne(clientDir: string, builtIn?: { pin: string; server: string }): Promise<void> {
  const saved = { pin: process.env['MEDCLASS_PIN'], server: process.env['MEDCLASS_SERVER'] };
  if (builtIn) {
    process.env['MEDCLASS_PIN'] = builtIn.pin;
    process.env['MEDCLASS_SERVER'] = builtIn.server;
  }
  try {
    // the config file is evaluated by build(), so it reads the variables now
    await build({ configFile: join(PROJECT_ROOT, 'vite.config.ts'), logLevel: 'error', build: { outDir: clientDir, emptyOutDir: true } });
  } finally {
    for (const [k, v] of [['MEDCLASS_PIN', saved.pin], ['MEDCLASS_SERVER', saved.server]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export interface WebappOptions {
  /** Build the app with the server's pin in it, talking to this address (the server itself, or a relay in front of it). */
  pinInBuildFor?: string;
}

export async function startWebapp(images: string[], options: WebappOptions = {}): Promise<Webapp> {
  const work = mkdtempSync(join(tmpdir(), 'medclass-webapp-'));
  const dataDir = join(work, 'data');
  const clientDir = join(work, 'client');
  // the identity first, when the build must carry its pin
  const builtIn = options.pinInBuildFor ? { pin: pinString((await loadOrCreateIdentity(dataDir)).identity), server: options.pinInBuildFor } : undefined;
  const built = buildWebapp(clientDir, builtIn);
  const { breast, model } = await trainedModel();
  const setUp = async () => {
    // one writer at a time on the data folder's database
    await medclass(['publish', model, '--data', dataDir, '--service', SERVICE, '--modes', 'original,reduced,features', '--description', 'Breast ultrasound (BreastMNIST, 28 × 28): malignant or benign. SVM on HOG and GLCM features.']);
    await medclass(['add-user', CLINICIAN.username, '--data', dataDir, '--password-env', 'NEW_PASSWORD'], { NEW_PASSWORD: CLINICIAN.password });
  };
  const [, predicted] = await Promise.all([setUp(), medclass(['predict', model, ...images, '--json'])]);
  const expected = new Map(
    predicted.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; label: string })
      .map((r) => [basename(r.file), r.label]),
  );
  await built;
  const server = await createMedclassServer({ dataDir, adminPassword: ADMIN_PASSWORD, clientDir, logger: createLogger('warn'), threads: 1 });
  const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
  const app: Webapp = {
    url,
    dataDir,
    clientDir,
    breast,
    server,
    expected,
    work,
    async stop() {
      // the server may have been replaced (a restart with another identity)
      await app.server.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return app;
}
