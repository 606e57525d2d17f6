/**
 * The CNN over the secure channel, against a real `medclass serve` process: an admin uploads
 * a small BreastMNIST subset, trains a tiny CNN on the server's worker thread with a report per
 * epoch, publishes it; a clinician classifies through the channel and gets the labels (and,
 * within 1e-4, the scores) that `medclass predict` gives with the same CNN trained by the CLI.
 * Tiny on purpose: two shared cores.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zipSync, type Zippable } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { MedclassClient, type TrainEvent } from '../shared/client/client.ts';
import { parsePin } from '../shared/protocol/identity.ts';
import type { ClassifyImage } from '../shared/protocol/messages.ts';
import { login } from './channel_login.ts';
import { dataset } from './golden.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const exec = promisify(execFile);
const CLINICIAN_PASSWORD = 'a clinician password';
const BREAST = dataset('breastmnist');
const SPEC = { features: ['pixels' as const], size: 28, levels: 32, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 };
const CNN = { kind: 'cnn' as const, epochs: 2, widths: [4, 8] };
/** Images per split and class in the subset. */
const TAKE = { train: 20, val: 6, test: 5 } as const;

function medclass(args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
}

let work: string;
let subset: string;
let server: ServerProcess;
const files: Record<string, Uint8Array> = {};
let testImages: string[];
let cli: Map<string, { label: string; scores: Record<string, number> }>;
let cliReport: { metrics: { test: { accuracy: number; confusion: number[][] } } };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-cnn-channel-'));
  subset = join(work, 'breast');
  for (const [split, n] of Object.entries(TAKE)) {
    for (const label of ['0', '1']) {
      mkdirSync(join(subset, split, label), { recursive: true });
      for (const f of readdirSync(join(BREAST, split, label)).sort((a, b) => parseInt(a) - parseInt(b)).slice(0, n)) {
        const bytes = new Uint8Array(readFileSync(join(BREAST, split, label, f)));
        writeFileSync(join(subset, split, label, f), bytes);
        files[`${split}/${label}/${f}`] = bytes;
      }
    }
  }
  testImages = Object.keys(files).filter((n) => n.startsWith('test/')).map((n) => join(subset, n));
  const dataDir = join(work, 'data');
  await medclass(['add-user', 'nurse', '--data', dataDir, '--password-env', 'NEW_PASSWORD'], { NEW_PASSWORD: CLINICIAN_PASSWORD });
  const model = join(work, 'cli.json');
  await medclass(['train', subset, '--classifier', 'cnn', '--epochs', String(CNN.epochs), '--widths', CNN.widths.join(','), '--out', model]);
  cliReport = JSON.parse(readFileSync(model, 'utf8'));
  const { stdout } = await medclass(['predict', model, ...testImages, '--json']);
  cli = new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string; scores: Record<string, number> }).map((r) => [r.file, r]));
  server = await startServerProcess({ dataDir, args: ['--no-demo'] });
}, 600_000);

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

describe('the CNN over the channel', () => {
  it('trains on the server with a report per epoch, publishes, and classifies as the CLI does', async () => {
    const admin = await connect('admin', ADMIN_PASSWORD);
    const events: TrainEvent[] = [];
    admin.onEvent((e) => events.push(e));
    const uploadId = await admin.uploadDataset(zipSync(files as Zippable), { name: 'breast.zip', files: Object.keys(files).length });
    const curves: number[] = [];
    const { jobId, report } = await admin.train(uploadId, SPEC, CNN, { onEpoch: (e) => curves.push(e.epoch) }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${server.output().slice(-3000)}`);
    });
    const epochs = events.flatMap((e) => (e.type === 'trainProgress' && e.epoch ? [e.epoch] : []));
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    // what the admin page draws live
    expect(curves).toEqual([1, 2]);
    for (const e of epochs) expect(e).toMatchObject({ epochs: 2, loss: expect.any(Number), valAccuracy: expect.any(Number) });
    expect(report).toMatchObject({ params: { chosen: { type: 'cnn', epochs: 2, widths: [4, 8], augment: true, flip: true } }, test: { n: 2 * TAKE.test } });
    expect((report['epochs'] as unknown[]).length).toBe(2);
    // seeded on wasm: the worker thread trains the CLI's model
    const test = report['test'] as { accuracy: number; confusion: number[][] };
    expect(test.confusion).toEqual(cliReport.metrics.test.confusion);
    await admin.publish(jobId, 'breast-cnn', { description: 'a tiny CNN', privacyModes: ['original', 'reduced'] });
    admin.close();

    const nurse = await connect('nurse', CLINICIAN_PASSWORD);
    const original = (file: string): ClassifyImage => ({ mode: 'original', name: 'image.png', data: new Uint8Array(readFileSync(file)) });
    const results = await nurse.classify('breast-cnn', testImages.map(original));
    results.forEach((r, i) => {
      const want = cli.get(testImages[i]!)!;
      expect(r, testImages[i]).toMatchObject({ ok: true, label: want.label });
      if (r.ok) for (const l of ['0', '1']) expect(Math.abs(r.scores[l]! - want.scores[l]!)).toBeLessThan(1e-4);
    });
    nurse.close();
  }, 600_000);
});
