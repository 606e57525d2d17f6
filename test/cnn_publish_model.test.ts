/**
 * A model trained outside the server, published over the channel (`publishModel`), against a
 * real `medclass serve` process: the small CNN of the browser test (2 epochs, widths 4 and 8,
 * 50 BreastMNIST images) trained by `medclass train` and published by `medclass publish`, the
 * same document published over the channel, and a clinician classifying with both through
 * the channel with the labels `medclass predict` gives. Then the refusals, each with its code
 * and audited: a clinician, text that is not a model, a document changed after it was hashed,
 * spec and network that disagree, a model above the size limit, and one that loads but cannot
 * classify.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { float32ToBase64 } from '../shared/classify/base64.ts';
import { integrityHash, type ModelDocument } from '../shared/classify/model.ts';
import type { MedclassClient } from '../shared/client/client.ts';
import type { ClassifyImage } from '../shared/protocol/messages.ts';
import { loggedInClient } from './channel_login.ts';
import { dataset } from './golden.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const exec = promisify(execFile);
const NURSE = { username: 'nurse', password: 'a clinician password' };
const BREAST = dataset('breastmnist');
/** Images per split and class: 50 in all, as in the browser test. */
const TAKE = { train: 20, test: 5 } as const;
/** A small limit, so that a too-large model costs little to send. */
const MAX_MODEL_BYTES = 256 * 1024;

function medclass(args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], { cwd: PROJECT_ROOT, env: { ...process.env, MEDCLASS_FROM_SOURCE: '1', ...env }, maxBuffer: 1 << 26 });
}

let work: string;
let server: ServerProcess;
let modelText: string;
let testImages: string[];
let predicted: Map<string, string>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-publish-model-'));
  const subset = join(work, 'breast');
  for (const [split, n] of Object.entries(TAKE)) {
    for (const label of ['0', '1']) {
      mkdirSync(join(subset, split, label), { recursive: true });
      for (const f of readdirSync(join(BREAST, split, label)).sort((a, b) => parseInt(a) - parseInt(b)).slice(0, n)) {
        writeFileSync(join(subset, split, label, f), readFileSync(join(BREAST, split, label, f)));
      }
    }
  }
  testImages = ['0', '1'].flatMap((l) => readdirSync(join(subset, 'test', l)).map((f) => join(subset, 'test', l, f)));
  const dataDir = join(work, 'data');
  const model = join(work, 'cnn.json');
  await medclass(['train', subset, '--classifier', 'cnn', '--epochs', '2', '--widths', '4,8', '--size', '28', '--out', model]);
  modelText = readFileSync(model, 'utf8');
  await medclass(['publish', model, '--data', dataDir, '--service', 'cli-cnn', '--modes', 'original,reduced', '--description', 'published by the CLI']);
  await medclass(['add-user', NURSE.username, '--data', dataDir, '--password-env', 'NEW_PASSWORD'], { NEW_PASSWORD: NURSE.password });
  const { stdout } = await medclass(['predict', model, ...testImages, '--json']);
  predicted = new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string }).map((r) => [r.file, r.label]));
  server = await startServerProcess({ dataDir, args: ['--no-demo'], env: { MEDCLASS_LIMITS: JSON.stringify({ upload: { maxModelBytes: MAX_MODEL_BYTES } }) } });
}, 600_000);

afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The document changed and hashed again: it passes the integrity check, so the other checks must catch it. */
function rehashed(change: (doc: ModelDocument) => void): string {
  const doc = JSON.parse(modelText) as ModelDocument;
  change(doc);
  doc.integrity.sha256 = integrityHash(doc as unknown as Record<string, unknown>);
  return JSON.stringify(doc);
}

async function refusal(client: MedclassClient, text: string): Promise<{ code: string; message: string }> {
  const e = (await client.publishModel(text, 'refused', { privacyModes: ['reduced'] }).then(
    () => ({ code: 'published', message: '' }),
    (err: unknown) => err,
  )) as { code: string; message: string };
  return { code: e.code, message: e.message };
}

describe('publishModel', () => {
  it('publishes the CLI-trained CNN document over the channel; a clinician gets medclass predict\'s labels from both services', async () => {
    const admin = await loggedInClient(server, 'admin', ADMIN_PASSWORD);
    await admin.publishModel(modelText, 'posted-cnn', { description: 'a tiny CNN sent as a document', privacyModes: ['original', 'reduced'] });
    const listed = (await admin.listServices()).find((s) => s.name === 'posted-cnn');
    expect(listed).toMatchObject({ version: 1, description: 'a tiny CNN sent as a document', labels: ['0', '1'], privacyModes: ['original', 'reduced'], spec: { features: ['pixels'], size: 28 } });
    expect(listed?.versions?.[0]?.summary?.classifier).toMatch(/^CNN 4-8 channels, 2 epochs/);
    // a second publish is a new version of the same service
    await admin.publishModel(modelText, 'posted-cnn', { description: 'again', privacyModes: ['reduced'] });
    expect((await admin.listServices()).find((s) => s.name === 'posted-cnn')).toMatchObject({ version: 2, privacyModes: ['reduced'] });
    await admin.publishModel(modelText, 'posted-cnn', { description: 'a tiny CNN sent as a document', privacyModes: ['original', 'reduced'] });

    const nurse = await loggedInClient(server, NURSE.username, NURSE.password);
    const original = (file: string): ClassifyImage => ({ mode: 'original', data: new Uint8Array(readFileSync(file)) });
    for (const service of ['cli-cnn', 'posted-cnn']) {
      const results = await nurse.classify(service, testImages.map(original));
      expect(results.map((r) => (r.ok ? r.label : r.message))).toEqual(testImages.map((f) => predicted.get(f)));
    }
    nurse.close();

    const entries = await admin.request({ type: 'auditQuery', requestId: 'audit1', action: 'publish' });
    const rows = entries.type === 'auditEntries' ? entries.entries : [];
    expect(rows.filter((r) => r.service === 'posted-cnn' && r.outcome === 'ok').map((r) => r.detail?.['via'])).toEqual(['publishModel', 'publishModel', 'publishModel']);
    admin.close();
  }, 300_000);

  it('refuses a clinician, text that is not a model, a changed document, an incoherent one, one too large and one that cannot classify; each audited', async () => {
    const nurse = await loggedInClient(server, NURSE.username, NURSE.password);
    expect(await refusal(nurse, modelText)).toMatchObject({ code: 'forbidden', message: 'publishModel is for admins' });
    nurse.close();

    const admin = await loggedInClient(server, 'admin', ADMIN_PASSWORD);
    expect(await refusal(admin, 'not a model')).toMatchObject({ code: 'invalidModel', message: expect.stringMatching(/^not a model file: the content is not JSON/) });
    const doc = JSON.parse(modelText) as ModelDocument;
    const edited = { ...doc, labels: ['benign', 'malignant'] };
    expect(await refusal(admin, JSON.stringify(edited))).toMatchObject({ code: 'invalidModel', message: expect.stringContaining('failed its integrity check') });
    const threeClasses = rehashed((d) => (d.labels = ['a', 'b', 'c']));
    expect(await refusal(admin, threeClasses)).toMatchObject({ code: 'invalidModel', message: expect.stringContaining('the network has 2 outputs, labels 3') });
    expect(await refusal(admin, modelText + ' '.repeat(MAX_MODEL_BYTES))).toMatchObject({ code: 'modelTooLarge', message: expect.stringMatching(/^the model is 0\.\d MiB; at most 0\.3 MiB are accepted$/) });
    // finite weights so large that the network's scores overflow: it loads, but cannot classify
    const overflowing = rehashed((d) => {
      if (d.classifier.type !== 'cnn') throw new Error('a CNN was expected');
      for (const w of d.classifier.weights) if (w.name.endsWith('/kernel')) w.base64 = float32ToBase64(new Float32Array(w.shape.reduce((a, b) => a * b, 1)).fill(3e38));
    });
    expect(await refusal(admin, overflowing)).toMatchObject({ code: 'invalidModel', message: expect.stringMatching(/^the model loads but cannot classify an image: /) });
    // nothing of it was published
    expect((await admin.listServices()).some((s) => s.name === 'refused')).toBe(false);
    const entries = await admin.request({ type: 'auditQuery', requestId: 'audit2', action: 'publishModel' });
    const rows = entries.type === 'auditEntries' ? entries.entries : [];
    expect(rows.map((r) => r.outcome).sort()).toEqual(['forbidden', 'invalidModel', 'invalidModel', 'invalidModel', 'invalidModel', 'modelTooLarge'].sort());
    admin.close();
  }, 300_000);
});
