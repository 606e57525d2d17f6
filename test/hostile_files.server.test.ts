/**
 * Issue 11's two PNG attacks against the real programs: the inflate bomb (1x1 declared,
 * 256 MiB of image data in 265 KB) and the hidden size (8000x8000 behind a 1x1 decoy, or
 * behind a first IHDR of 1x1).
 *
 * - `medclass features` in a child process refuses each, one record with an error each; its
 *   peak memory (maxRSS, reported by the child at exit) stays under 400 MiB. Times printed:
 *   the whole run, and the same run on a valid 1x1 PNG (what starting the CLI costs).
 * - A real `medclass serve`: a clinician sends them in original mode and gets a per-image
 *   error, while a second user's classifications go on; their latencies and the server's
 *   peak memory are printed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedInClient } from './channel_login.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { MedclassClient } from '../shared/client/client.ts';
import type { ClassifyImage } from '../shared/protocol/messages.ts';
import { dataset, GOLDEN } from './golden.ts';
import { hiddenSizePng, inflateBombPng } from './hostile_files.ts';
import { startServerProcess, type ServerProcess } from './server_process.ts';

const exec = promisify(execFile);
const MiB = 2 ** 20;
const CLI_MEMORY_BOUND = 400 * MiB;
const NURSE = 'a nurse password here';
const DOCTOR = 'a doctor password here';

/** Reports the child's peak memory and lifetime on stderr as it exits (no change to the CLI needed). */
const REPORT_AT_EXIT = `data:text/javascript,${encodeURIComponent(
  "process.on('exit', () => process.stderr.write(`\\nmedclass-usage ${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, ms: Math.round(performance.now()) })}\\n`));",
)}`;

function medclass(args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, ['--import', REPORT_AT_EXIT, join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

const usage = (stderr: string) => JSON.parse(/medclass-usage (\{.*\})/.exec(stderr)![1]!) as { maxRssKiB: number; ms: number };

let work: string;
const files: Record<string, Uint8Array> = {};
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medclass-hostile-'));
  files['bomb.png'] = inflateBombPng();
  files['hidden.png'] = hiddenSizePng();
  files['hidden_two_headers.png'] = hiddenSizePng(true);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(work, name), bytes);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const EXPECTED: Record<string, { code: string; message: RegExp }> = {
  'bomb.png': { code: 'imageTooLarge', message: /inflates to more than the 2 bytes its 1x1 header allows/ },
  'hidden.png': { code: 'corruptImage', message: /first chunk is hIDE; it must be IHDR/ },
  'hidden_two_headers.png': { code: 'corruptImage', message: /more than one header \(IHDR\)/ },
};

describe('medclass features on the two PNG attacks', () => {
  it('refuses each with a clear error, within 400 MiB of peak memory', async () => {
    const baseline = await medclass(['features', join(GOLDEN, 'images', 'pixel.png')]);
    expect(baseline.code).toBe(0);
    const start = usage(baseline.stderr);
    const lines = [`CLI start on a valid 1x1 PNG: ${start.ms} ms, peak RSS ${(start.maxRssKiB / 1024).toFixed(0)} MiB`];
    for (const name of Object.keys(EXPECTED)) {
      const r = await medclass(['features', join(work, name)]);
      expect(r.code).toBe(1); // nothing could be read
      const record = JSON.parse(r.stdout).images[0] as { error: string; errorCode: string };
      expect(record.errorCode).toBe(EXPECTED[name]!.code);
      expect(record.error).toMatch(EXPECTED[name]!.message);
      const u = usage(r.stderr);
      lines.push(`${name} (${files[name]!.length} bytes): refused, the run took ${u.ms} ms (${u.ms - start.ms} ms over the valid 1x1 run), peak RSS ${(u.maxRssKiB / 1024).toFixed(0)} MiB`);
      expect(u.maxRssKiB * 1024).toBeLessThan(CLI_MEMORY_BOUND);
    }
    console.log(lines.join('\n'));
  }, 180_000);
});

describe('medclass serve: a clinician sends the two PNG attacks', () => {
  let server: ServerProcess;
  const breast = dataset('breastmnist');
  const valid = readdirSync(join(breast, 'test', '0'))
    .sort()
    .slice(0, 4)
    .map((f) => new Uint8Array(readFileSync(join(breast, 'test', '0', f))));

  beforeAll(async () => {
    const dataDir = join(work, 'data');
    const model = join(work, 'model.json');
    const train = await medclass(['train', join(breast, 'train'), '--size', '32', '--features', 'hogMean,glcmContrast,glcmEnergy', '--out', model]);
    expect(train.code, train.stderr).toBe(0);
    for (const args of [
      ['publish', model, '--data', dataDir, '--service', 'demo', '--modes', 'original,reduced'],
      ['add-user', 'nurse', '--data', dataDir, '--password-env', 'PW'],
      ['add-user', 'doctor', '--data', dataDir, '--password-env', 'PW2'],
    ]) {
      const r = await medclass(args, { PW: NURSE, PW2: DOCTOR });
      expect(r.code, r.stderr).toBe(0);
    }
    server = await startServerProcess({ dataDir });
  }, 300_000);
  afterAll(() => server?.stop());

  async function connect(user: string, password: string): Promise<MedclassClient> {
    return loggedInClient(server, user, password);
  }
  const peakRss = () => {
    const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
  };

  it('gets a per-image error for each, while a second user\'s classifications go on', async () => {
    const nurse = await connect('nurse', NURSE);
    const doctor = await connect('doctor', DOCTOR);
    const original = (name: string, data: Uint8Array): ClassifyImage => ({ mode: 'original', name, data });
    // warm: the service loaded and the workers started, so the latencies below are the steady ones
    expect((await doctor.classify('demo', [original('a.png', valid[0]!)]))[0]).toMatchObject({ ok: true });
    // the same classifications with nobody attacking: what this (shared, loaded) machine gives anyway
    const quiet: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      expect((await doctor.classify('demo', [original('q.png', valid[i % valid.length]!)]))[0]).toMatchObject({ ok: true });
      quiet.push(performance.now() - t);
    }
    quiet.sort((a, b) => a - b);
    const rssBefore = peakRss();

    let sending = true;
    const latencies: number[] = [];
    const bystander = (async () => {
      for (let i = 0; sending || i < 3; i++) {
        const t = performance.now();
        const [r] = await doctor.classify('demo', [original('b.png', valid[i % valid.length]!)]);
        latencies.push(performance.now() - t);
        expect(r).toMatchObject({ ok: true });
      }
    })();
    const started = performance.now();
    const names = [...Object.keys(EXPECTED), ...Object.keys(EXPECTED)];
    const results = await nurse.classify('demo', [...names.map((n) => original(n, files[n]!)), original('valid.png', valid[1]!)]);
    const attackMs = performance.now() - started;
    sending = false;
    await bystander;

    names.forEach((n, i) => expect(results[i], n).toMatchObject({ ok: false, code: EXPECTED[n]!.code, message: expect.stringMatching(EXPECTED[n]!.message) }));
    expect(results.at(-1)).toMatchObject({ ok: true });
    const rssAfter = peakRss();
    latencies.sort((a, b) => a - b);
    console.log(
      `server: ${names.length} hostile PNGs (original mode) refused per image in ${attackMs.toFixed(0)} ms; ` +
        `the other user's ${latencies.length} classifications meanwhile: median ${latencies[latencies.length >> 1]!.toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms ` +
        `(with no attack: median ${quiet[quiet.length >> 1]!.toFixed(0)} ms, max ${quiet.at(-1)!.toFixed(0)} ms); ` +
        `server peak RSS ${(rssBefore / MiB).toFixed(0)} MiB before, ${(rssAfter / MiB).toFixed(0)} MiB after`,
    );
    // the work the server did for them is bounded: its peak memory grew by less than one bomb's worth
    expect(rssAfter - rssBefore).toBeLessThan(128 * MiB);
    nurse.close();
    doctor.close();
  }, 180_000);
});
