/**
 * Training over the secure channel, against a real `medclass serve` process on a fresh data
 * folder: the BreastMNIST demo service trained at first start; an admin uploads a zipped
 * BreastMNIST folder in chunks, trains, follows the progress, reads the report, publishes; a
 * clinician classifies with it and gets the labels `medclass predict` gives for the same
 * model trained by the CLI; refusals (sizes, bad ZIPs, zip bombs, roles); rollback.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { zipSync, type Zippable } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { login } from './channel_login.ts';
import { MedclassClient, type PushEvent, type TrainEvent } from '../shared/client/client.ts';
import { parsePin } from '../shared/protocol/identity.ts';
import type { ClassifyImage, ClientMessage } from '../shared/protocol/messages.ts';
import { dataset } from './golden.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const exec = promisify(execFile);
const CLINICIAN_PASSWORD = 'a clinician password';
const BREAST = dataset('breastmnist');
/** The spec the channel job and the CLI both train with (the CLI's defaults but the size). */
const SPEC = { features: ['hog', 'hogMean', 'hogVariance', 'glcmEnergy', 'glcmContrast', 'glcmHomogeneity', 'glcmCorrelation'], size: 32, levels: 32, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 } as const;

function medclass(args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
  });
}

/** Every file of a dataset folder, by its path relative to the folder. */
function filesOf(root: string, under = ''): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const e of readdirSync(join(root, under), { withFileTypes: true })) {
    const rel = under ? `${under}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, filesOf(root, rel));
    else if (e.name.endsWith('.png')) out[rel] = new Uint8Array(readFileSync(join(root, rel)));
  }
  return out;
}

const zip = (files: Record<string, Uint8Array>) => zipSync(files as Zippable, { level: 6 });

/** The first `n` test images of each class, as paths. */
const TEST_IMAGES = ['0', '1'].flatMap((label) =>
  readdirSync(join(BREAST, 'test', label))
    .sort((a, b) => parseInt(a) - parseInt(b))
    .slice(0, 10)
    .map((f) => join(BREAST, 'test', label, f)),
);
const original = (file: string): ClassifyImage => ({ mode: 'original', name: 'image.png', data: new Uint8Array(readFileSync(file)) });

let work: string;
let server: ServerProcess;
let reference: { metrics: { test: { accuracy: number; balancedAccuracy: number; confusion: number[][] } } };
let predicted: Map<string, string>;
let started: number;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-training-'));
  const dataDir = join(work, 'data');
  const model = join(work, 'reference.json');
  await medclass(['add-user', 'nurse', '--data', dataDir, '--password-env', 'NEW_PASSWORD'], { NEW_PASSWORD: CLINICIAN_PASSWORD });
  // the reference: the same spec and settings through the CLI (svm, rbf, C=1, gamma scale)
  const cli = (async () => {
    await medclass(['train', BREAST, '--size', String(SPEC.size), '--levels', String(SPEC.levels), '--out', model]);
    reference = JSON.parse(readFileSync(model, 'utf8'));
    const { stdout } = await medclass(['predict', model, ...TEST_IMAGES, '--json']);
    predicted = new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string }).map((r) => [r.file, r.label]));
  })();
  started = performance.now();
  // a fresh store: the server trains the demo service before it listens
  server = await startServerProcess({ dataDir });
  started = performance.now() - started;
  await cli;
}, 240_000);

afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function connect(user: string, password: string): Promise<MedclassClient> {
  const { token } = await login(server, user, password);
  const client = await MedclassClient.connect(await connectWebSocket(server.url), await parsePin(server.pin));
  await client.resume(token);
  return client;
}
const admin = () => connect('admin', ADMIN_PASSWORD);
const nurse = () => connect('nurse', CLINICIAN_PASSWORD);

describe('the demo service', () => {
  it('is trained on BreastMNIST at the first start, published as demo, and classifies', async () => {
    expect(server.output()).toMatch(/demo service trained on BreastMNIST and published in [\d.]+ s/);
    process.stderr.write(`server start with demo training: ${(started / 1000).toFixed(1)} s; ${/"msg":"(demo service trained[^"]*)"/.exec(server.output())?.[1]}\n`);
    const client = await nurse();
    const services = await client.listServices();
    const demo = services.find((s) => s.name === 'demo');
    expect(demo).toMatchObject({
      version: 1,
      labels: ['malignant', 'normal-or-benign'],
      description: 'Breast ultrasound (BreastMNIST): malignant or normal-or-benign',
      privacyModes: ['original', 'reduced', 'features'],
      spec: { size: 64, levels: 32 },
    });
    const results = await client.classify('demo', TEST_IMAGES.slice(8, 12).map(original));
    for (const r of results) expect(r).toMatchObject({ ok: true, modelVersion: 1, label: expect.stringMatching(/^(malignant|normal-or-benign)$/) });
    client.close();
  });
});

describe('training over the channel', () => {
  let jobId: string;

  it('uploads a zipped BreastMNIST folder in chunks, trains an SVM with progress, reports test metrics and publishes it', async () => {
    const files = filesOf(BREAST);
    const names = Object.keys(files);
    expect(names).toHaveLength(780);
    // the folder itself is zipped: one wrapping folder around train/ val/ test/
    const archive = zip(Object.fromEntries(names.map((n) => [`breastmnist/${n}`, files[n]!])));
    const client = await admin();
    const events: TrainEvent[] = [];
    client.onEvent((e) => events.push(e));
    const chunks: number[] = [];
    const t0 = performance.now();
    const uploadId = await client.uploadDataset(archive, { name: 'breastmnist.zip', files: names.length, chunkBytes: 64 * 1024, onProgress: (sent) => chunks.push(sent) });
    const uploadMs = performance.now() - t0;
    expect(chunks.length).toBeGreaterThan(5);
    const phases: string[] = [];
    let extracted = 0;
    const { jobId: id, report } = await client.train(uploadId, { ...SPEC, features: [...SPEC.features] }, { kind: 'svm' }, {
      onProgress: (phase, done, total) => {
        if (phases.at(-1) !== phase) phases.push(phase);
        if (phase === 'extracting') {
          expect(total).toBe(780);
          expect(done).toBeGreaterThanOrEqual(extracted);
          extracted = done;
        }
      },
    });
    jobId = id;
    const trainMs = performance.now() - t0 - uploadMs;
    process.stderr.write(`BreastMNIST over the channel: upload ${archive.length} bytes in ${uploadMs.toFixed(0)} ms, training ${trainMs.toFixed(0)} ms (server: ${JSON.stringify(report['timings'])})\n`);

    expect(phases).toEqual(['extracting', 'estimating', 'fitting']);
    expect(extracted).toBe(780);
    expect(events.at(-1)).toMatchObject({ type: 'trainDone', jobId });
    expect(events.filter((e) => e.type === 'trainProgress').every((e) => e.jobId === jobId)).toBe(true);

    expect(report).toMatchObject({
      jobId,
      dataset: { layout: 'splits', splits: ['train', 'val', 'test'], labels: ['0', '1'], counts: { train: { 0: 147, 1: 399 }, val: { 0: 21, 1: 57 }, test: { 0: 42, 1: 114 } }, images: 780, leftOut: 0 },
      duplicates: { groups: 1, crossSplit: 1, labelConflicts: [[{ name: 'train/0/115.png', split: 'train', label: '0' }, { name: 'test/1/76.png', split: 'test', label: '1' }]] },
      spec: SPEC,
      params: { chosen: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } }, probability: true, classWeight: null },
      estimate: { mode: 'validation', metrics: { n: 78 } },
      test: { n: 156, labels: ['0', '1'] },
    });
    expect(report['warnings']).toContain('  train/0/115.png (label 0) = test/1/76.png (label 1)');
    // the same model as the CLI's: the same test metrics
    const test = report['test'] as { accuracy: number; balancedAccuracy: number; auc: number; confusion: number[][]; perClass: unknown[] };
    expect(test.accuracy).toBe(reference.metrics.test.accuracy);
    expect(test.balancedAccuracy).toBe(reference.metrics.test.balancedAccuracy);
    expect(test.confusion).toEqual(reference.metrics.test.confusion);
    expect(test.auc).toBeGreaterThan(0.7);
    expect(test.perClass).toHaveLength(2);
    // the misclassified test images, per confusion cell
    const cells = report['misclassified'] as { true: string; predicted: string; count: number; names: string[] }[];
    for (const cell of cells) {
      expect(cell.true).not.toBe(cell.predicted);
      expect(cell.count).toBe(test.confusion[Number(cell.true)]![Number(cell.predicted)]);
      expect(cell.names).toHaveLength(cell.count);
      for (const n of cell.names) expect(n).toMatch(new RegExp(`^test/${cell.true}/\\d+\\.png$`));
    }
    expect(cells.reduce((n, c) => n + c.count, 0)).toBe(156 - Math.round(test.accuracy * 156));

    await client.publish(jobId, 'breast', { description: 'BreastMNIST, trained over the channel', privacyModes: ['original', 'reduced'] });
    client.close();

    // a clinician classifies with it: the labels of `medclass predict` on the CLI's model
    const clinician = await nurse();
    const services = await clinician.listServices();
    expect(services.find((s) => s.name === 'breast')).toMatchObject({ version: 1, labels: ['0', '1'], privacyModes: ['original', 'reduced'], spec: SPEC });
    const results = await clinician.classify('breast', TEST_IMAGES.map(original));
    results.forEach((r, i) => expect(r, TEST_IMAGES[i]).toMatchObject({ ok: true, modelVersion: 1, label: predicted.get(TEST_IMAGES[i]!) }));
    clinician.close();
  }, 180_000);

  it('tunes automatically on the server\'s training workers when `train` asks (auto), with progress, what it tried and the ROC curves', async () => {
    const files = filesOf(BREAST);
    const client = await admin();
    const uploadId = await client.uploadDataset(zip(files), { files: Object.keys(files).length });
    const phases: string[] = [];
    const { report } = await client.train(uploadId, { ...SPEC, features: [...SPEC.features] }, { kind: 'svm' }, {
      // balanced accuracy first, against the default (AUC first): the option crosses the channel
      auto: { budgetSeconds: 20, features: 'search', rankBy: 'balanced' },
      onProgress: (phase) => {
        if (phases.at(-1) !== phase) phases.push(phase);
      },
    });
    expect(phases).toEqual(['extracting', 'tuning', 'fitting']);
    const auto = report['auto'] as { budgetMs: number; scored: number; reason: string; featureSets: unknown[]; winner: { set: string } };
    expect(auto).toMatchObject({ budgetMs: 20_000, folds: 5, sizes: [0, 64] });
    expect(auto.scored).toBeGreaterThan(0);
    expect(auto.reason).toMatch(/^highest cross-validated balanced accuracy/);
    expect(report['auto']).toMatchObject({ rankBy: 'balanced accuracy, then AUC' });
    expect(auto.featureSets.length).toBeGreaterThan(1);
    // the model's spec is the winner's: its features only, at its size
    const spec = report['spec'] as { features: string[]; size: number };
    expect(spec.features.length).toBeGreaterThan(0);
    const roc = report['roc'] as { on: string; curves: { label: string; points: [number, number][]; operatingPoint: { fpr: number; tpr: number } }[] };
    expect(roc.on).toBe('test');
    expect(roc.curves.map((c) => c.label)).toEqual(['0', '1']);
    const test = report['test'] as { confusion: number[][] };
    expect(roc.curves[1]!.operatingPoint.tpr).toBeCloseTo(test.confusion[1]![1]! / (test.confusion[1]![0]! + test.confusion[1]![1]!), 6);
    client.close();
  }, 240_000);

  it('trains twice on one kept upload, publishes a second version, rolls back and forward with each version\'s modes, and tells connected clients', async () => {
    const train = filesOf(join(BREAST, 'train'));
    const client = await admin();
    const clinician = await nurse();
    const pushed: PushEvent[] = [];
    clinician.onPush((e) => pushed.push(e));
    const adminPushed: PushEvent[] = [];
    client.onPush((e) => adminPushed.push(e));
    const uploadId = await client.uploadDataset(zip(train), { files: Object.keys(train).length });
    const { jobId: knn, report } = await client.train(uploadId, { ...SPEC, features: [...SPEC.features] }, { kind: 'knn', k: 7 });
    expect(report).toMatchObject({ dataset: { layout: 'classes', splits: ['train'], counts: { train: { 0: 147, 1: 399 } } }, estimate: { mode: 'cross-validation', folds: 5 }, test: null, misclassified: [] });
    expect(report['params']).toMatchObject({ chosen: { type: 'knn', k: 7, metric: 'euclidean', weights: 'uniform' } });
    // the upload is kept: a second training on it, other settings
    const again = await client.train(uploadId, { ...SPEC, features: ['hogMean', 'glcmContrast'] }, { kind: 'knn', k: 3 });
    expect(again.report).toMatchObject({ dataset: { images: 546 }, params: { chosen: { k: 3 } } });
    // v2 takes features only (v1 took originals and reduced images)
    await client.publish(knn, 'breast', { description: 'KNN', privacyModes: ['features'] });
    await expect.poll(() => pushed.length, { timeout: 20_000 }).toBe(1);
    expect(pushed[0]).toMatchObject({ type: 'serviceChanged', service: { name: 'breast', version: 2, description: 'KNN', privacyModes: ['features'] } });
    expect(pushed[0]!.type === 'serviceChanged' && pushed[0]!.service.versions).toBeUndefined();
    // admins get every kept version with its summary
    await expect.poll(() => adminPushed.length, { timeout: 20_000 }).toBe(1);
    const versions = (await client.listServices()).find((s) => s.name === 'breast')!.versions!;
    expect(versions.map((v) => [v.version, v.description, v.privacyModes, v.createdBy])).toEqual([
      [1, 'BreastMNIST, trained over the channel', ['original', 'reduced'], 'admin'],
      [2, 'KNN', ['features'], 'admin'],
    ]);
    expect(versions[0]!.summary).toMatchObject({ classifier: expect.stringMatching(/^SVM rbf/), features: SPEC.features, size: 32, trainedOn: expect.any(Number), test: { n: 156 } });
    expect(versions[1]!.summary).toMatchObject({ classifier: expect.stringMatching(/^KNN/), test: null, estimate: { mode: 'cross-validation' } });
    expect((await clinician.listServices()).find((s) => s.name === 'breast')).toMatchObject({ version: 2, privacyModes: ['features'], description: 'KNN' });
    expect((await clinician.listServices()).find((s) => s.name === 'breast')!.versions).toBeUndefined();

    const image = [original(TEST_IMAGES[0]!)];
    await expect(clinician.classify('breast', image)).rejects.toMatchObject({ code: 'modeNotAllowed' });
    // back to v1: its own modes and description again
    await client.makeCurrent('breast', 1);
    await expect.poll(() => pushed.length, { timeout: 20_000 }).toBe(2);
    expect(pushed[1]).toMatchObject({ service: { name: 'breast', version: 1, description: 'BreastMNIST, trained over the channel', privacyModes: ['original', 'reduced'] } });
    const [r] = await clinician.classify('breast', image);
    expect(r).toMatchObject({ ok: true, modelVersion: 1, label: predicted.get(TEST_IMAGES[0]!) });
    // `medclass services` shows the current version's description and modes too
    const { stdout: listed } = await medclass(['services', '--server', server.url, '--pin', server.pin, '--user', 'nurse', '--password-env', 'NURSE_PW'], { NURSE_PW: CLINICIAN_PASSWORD });
    expect(listed).toContain('breast v1: BreastMNIST, trained over the channel\n  labels 0, 1; accepts original, reduced;');
    // and forward to v2: originals refused again
    await client.makeCurrent('breast', 2);
    await expect.poll(() => pushed.length, { timeout: 20_000 }).toBe(3);
    await expect(clinician.classify('breast', image)).rejects.toMatchObject({ code: 'modeNotAllowed' });
    // the job stays publishable for a while: again, as its own service
    await client.publish(jobId, 'breast-copy', { privacyModes: ['features'] });
    expect((await clinician.listServices()).map((s) => s.name)).toEqual(['breast', 'breast-copy', 'demo']);
    // dropped at the admin's word
    await client.dropUpload(uploadId);
    await expect(client.train(uploadId, { ...SPEC, features: [...SPEC.features] }, { kind: 'svm' })).rejects.toMatchObject({ code: 'notFound' });
    client.close();
    clinician.close();
  }, 180_000);
});

describe('refusals', () => {
  const id = () => MedclassClient.newRequestId();
  /** A message the client's helpers would never send (chunks out of order, past the size). */
  const sendRaw = (client: MedclassClient, m: ClientMessage) => (client as unknown as { send(m: ClientMessage): Promise<void> }).send(m);

  it('refuses oversize uploads, chunks out of order or past the declared size, and a second upload at once', async () => {
    const client = await admin();
    await expect(client.request({ type: 'uploadStart', requestId: id(), uploadId: 'huge', name: 'x.zip', totalBytes: 513 * 2 ** 20, files: 1 })).rejects.toMatchObject({
      code: 'uploadTooLarge',
      message: expect.stringMatching(/at most 512\.0 MiB/),
    });
    await client.request({ type: 'uploadStart', requestId: id(), uploadId: 'small', name: 'x.zip', totalBytes: 10, files: 1 });
    await expect(client.request({ type: 'uploadStart', requestId: id(), uploadId: 'other', name: 'y.zip', totalBytes: 10, files: 1 })).rejects.toMatchObject({ code: 'conflict' });
    await expect(client.uploadDataset(new Uint8Array(20), { uploadId: 'small2' })).rejects.toMatchObject({ code: 'conflict' });
    // 20 bytes where 10 were declared: refused at uploadEnd (the chunk's own refusal has no request id)
    await sendRaw(client, { type: 'uploadChunk', uploadId: 'small', seq: 0, data: new Uint8Array(20) });
    await expect(client.request({ type: 'uploadEnd', requestId: id(), uploadId: 'small' })).rejects.toMatchObject({ code: 'uploadTooLarge', message: expect.stringMatching(/more than the 10 bytes declared/) });
    // out of order
    await client.request({ type: 'uploadStart', requestId: id(), uploadId: 'order', name: 'x.zip', totalBytes: 10, files: 1 });
    await sendRaw(client, { type: 'uploadChunk', uploadId: 'order', seq: 1, data: new Uint8Array(5) });
    await expect(client.request({ type: 'uploadEnd', requestId: id(), uploadId: 'order' })).rejects.toMatchObject({ code: 'badUpload', message: expect.stringMatching(/chunk 1 came where chunk 0 was expected/) });
    // short
    await client.request({ type: 'uploadStart', requestId: id(), uploadId: 'short', name: 'x.zip', totalBytes: 10, files: 1 });
    await expect(client.request({ type: 'uploadEnd', requestId: id(), uploadId: 'short' })).rejects.toMatchObject({ code: 'badUpload', message: expect.stringMatching(/after 0 of the 10 bytes/) });
    // and the session still serves
    expect((await client.listServices()).length).toBeGreaterThan(0);
    client.close();
  });

  it('refuses a file that is not a ZIP, zip bombs, and datasets it cannot train on', async () => {
    const client = await admin();
    await expect(client.uploadDataset(new TextEncoder().encode('this is not a zip file, just text'.repeat(10)))).rejects.toMatchObject({ code: 'badZip', message: expect.stringMatching(/not a usable ZIP/) });
    // an image entry that inflates to 40 MiB of zeros (above what one image may be)
    await expect(client.uploadDataset(zip({ 'a/bomb.png': new Uint8Array(40 * 2 ** 20), 'b/x.png': new Uint8Array(10) }))).rejects.toMatchObject({
      code: 'zipTooLarge',
      message: expect.stringMatching(/would inflate to 40 MiB/),
    });
    // headers that declare small sizes and inflate to much more
    const lying = zip({ 'a/bomb.png': new Uint8Array(16 * 2 ** 20), 'b/x.png': new Uint8Array(10) });
    const view = new DataView(lying.buffer);
    for (let o = lying.length - 22; o > 0; o--) {
      if (view.getUint32(o, true) === 0x02014b50 && view.getUint32(o + 24, true) === 16 * 2 ** 20) view.setUint32(o + 24, 1000, true);
    }
    await expect(client.uploadDataset(lying)).rejects.toMatchObject({ code: 'zipTooLarge', message: expect.stringMatching(/zip bomb/) });
    // one class only: the job is accepted, then fails with the reason
    const one = await client.uploadDataset(zip({ 'benign/1.png': new Uint8Array(readFileSync(TEST_IMAGES[0]!)), 'benign/2.png': new Uint8Array(readFileSync(TEST_IMAGES[1]!)) }));
    let started: string | null = null;
    await expect(client.train(one, { ...SPEC, features: [...SPEC.features] }, { kind: 'svm' }, { onStarted: (j) => (started = j) })).rejects.toMatchObject({
      code: 'invalidDataset',
      message: expect.stringMatching(/only one class \('benign'\)/),
    });
    expect(started).toMatch(/^job-/);
    // the failed job leaves the upload kept: trained again, it fails for the same reason, not for a missing upload
    await expect(client.train(one, { ...SPEC, features: [...SPEC.features] }, { kind: 'knn' })).rejects.toMatchObject({ code: 'invalidDataset' });
    await expect(client.train('nosuchupload', { ...SPEC, features: [...SPEC.features] }, { kind: 'svm' })).rejects.toMatchObject({ code: 'notFound' });
    await expect(client.publish('job-nosuchjob', 'x', { privacyModes: ['features'] })).rejects.toMatchObject({ code: 'notFound' });
    client.close();
  });

  it('refuses upload, train and publish from a clinician', async () => {
    const client = await nurse();
    const spec = { ...SPEC, features: [...SPEC.features] };
    await expect(client.uploadDataset(zip({ 'a/1.png': new Uint8Array(10) }))).rejects.toMatchObject({ code: 'forbidden', message: 'uploadStart is for admins' });
    await expect(client.request({ type: 'uploadEnd', requestId: id(), uploadId: 'u' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(client.train('u', spec, { kind: 'svm' })).rejects.toMatchObject({ code: 'forbidden', message: 'train is for admins' });
    await expect(client.publish('job-x', 'breast', { privacyModes: ['features'] })).rejects.toMatchObject({ code: 'forbidden' });
    client.close();
  });

  it('keeps image bytes and file names out of the audit trail', () => {
    const db = new Database(join(server.dataDir, 'medclass.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT action, outcome, detail, service FROM audit').all() as { action: string; outcome: string; detail: string | null; service: string | null }[];
      const actions = new Set(rows.map((r) => `${r.action}:${r.outcome}`));
      // every change of a service's modes, rollbacks and roll forwards included
      const modes = rows.filter((r) => r.action === 'modes' && r.service === 'breast').map((r) => JSON.parse(r.detail!) as { to: string });
      expect(modes.map((m) => m.to)).toEqual(['original,reduced', 'features', 'original,reduced', 'features']);
      for (const a of ['upload:ok', 'upload:dropped', 'rollback:ok', 'train:ok', 'publish:ok', 'upload:badZip', 'upload:zipTooLarge', 'upload:uploadTooLarge', 'train:invalidDataset', 'uploadStart:forbidden', 'train:forbidden']) expect(actions).toContain(a);
      for (const r of rows) expect(`${r.detail ?? ''}`).not.toMatch(/\.png|breastmnist|benign/i);
      expect(rows.find((r) => r.action === 'publish' && r.service === 'demo')).toMatchObject({ outcome: 'ok' });
    } finally {
      db.close();
    }
  });
});
