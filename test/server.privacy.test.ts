/**
 * No image bytes reach the data folder, the logs or the audit trail. Real images are classified
 * in each mode (original, reduced, features) through a live `medclass serve` (debug logging),
 * then every file under its data folder (SQLite db, -wal, -shm, identity) is scanned while it
 * runs and again after it stops, together with the process's whole log output, for:
 *
 * (a) the PNG files: every 32-byte window of each, raw and as base64 / hex / decimal text; and
 *     every 32-byte window of their decoded 8-bit pixels;
 * (b) the reduced float32 pixels sent: every 32-byte window, raw and base64, and each value
 *     written as a decimal number;
 * (c) the float64 feature vectors sent: the same;
 * (d) the login token and the password; and the image names sent with the images.
 *
 * Windows with fewer than 8 distinct byte values (a run of black pixels, zero padding) say
 * nothing about an image and would match any zero-filled page, so they are not searched for.
 * The audit trail is read with better-sqlite3 (read-only): its rows hold only the fields
 * store.ts documents, and their detail only counts, the mode and stage timings.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { decode as decodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { login } from './channel_login.ts';
import { useCpuBackend } from '../server/features/backend.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import type { AuditTableRow } from '../server/store/audit_row.ts';
import { parseModel, type LoadedModel } from '../shared/classify/model.ts';
import { MedclassClient } from '../shared/client/client.ts';
import { extractBatch, featureVector, prepareImage } from '../shared/features/extract.ts';
import { decodeImage } from '../shared/image/index.ts';
import { parsePin } from '../shared/protocol/identity.ts';
import { packFloat32, packFloat64, type ClassifyImage } from '../shared/protocol/messages.ts';
import { splitImages } from './golden.ts';
import { breastModel } from './breast_model.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const WINDOW = 32;

interface Secret {
  what: string;
  bytes: Uint8Array;
}

/** Every informative WINDOW-byte window of the secrets, found in a haystack by a 4-byte prefix index. */
class WindowIndex {
  private readonly byPrefix = new Map<number, { what: string; window: Uint8Array }[]>();
  indexed = 0;
  skipped = 0;

  add({ what, bytes }: Secret): void {
    for (let i = 0; i + WINDOW <= bytes.length; i++) {
      const w = bytes.subarray(i, i + WINDOW);
      if (new Set(w).size < 8) {
        this.skipped++;
        continue;
      }
      const key = ((w[0]! << 24) | (w[1]! << 16) | (w[2]! << 8) | w[3]!) >>> 0;
      const list = this.byPrefix.get(key) ?? [];
      list.push({ what: `${what} @${i}`, window: w });
      this.byPrefix.set(key, list);
      this.indexed++;
    }
  }

  /** What of the secrets occurs in `haystack` (at most 10). */
  find(haystack: Uint8Array): string[] {
    const found: string[] = [];
    for (let i = 0; i + WINDOW <= haystack.length && found.length < 10; i++) {
      const key = ((haystack[i]! << 24) | (haystack[i + 1]! << 16) | (haystack[i + 2]! << 8) | haystack[i + 3]!) >>> 0;
      const list = this.byPrefix.get(key);
      if (!list) continue;
      for (const { what, window } of list) {
        let j = 4;
        while (j < WINDOW && haystack[i + j] === window[j]) j++;
        if (j === WINDOW) found.push(`${what} at offset ${i}`);
      }
    }
    return found;
  }
}

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));

/** The bytes themselves and the ways text could carry them (base64 at each alignment, hex, decimals). */
function encodings(what: string, bytes: Uint8Array, text: boolean): Secret[] {
  const out: Secret[] = [{ what, bytes }];
  if (!text) return out;
  for (let k = 0; k < 3; k++) {
    const part = Buffer.from(bytes.subarray(k));
    out.push({ what: `${what} (base64+${k})`, bytes: ascii(part.toString('base64')) });
    out.push({ what: `${what} (base64url+${k})`, bytes: ascii(part.toString('base64url')) });
  }
  const hex = Buffer.from(bytes).toString('hex');
  out.push({ what: `${what} (hex)`, bytes: ascii(hex) }, { what: `${what} (HEX)`, bytes: ascii(hex.toUpperCase()) });
  out.push({ what: `${what} (decimal list)`, bytes: ascii(Array.from(bytes).join(',')) });
  return out;
}

/** Decimal numbers long enough to be telling (at least 6 decimals) in a text. */
const LONG_NUMBER = /-?\d+\.\d{6,}(?:e[-+]?\d+)?/g;

function medclass(args: string[]): string {
  return execFileSync(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

interface Sent {
  file: string;
  png: Uint8Array;
  pixels8: Uint8Array;
  width: number;
  height: number;
  reduced: Float32Array;
  features: Float64Array;
  name: string;
}

let workDir: string;
let dataDir: string;
let server: ServerProcess;
let model: LoadedModel;
let token: string;
const sent: Sent[] = [];
const requests = { original: 0, reduced: 0, features: 0 };
let errorRequests = 0;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'medclass-privacy-'));
  dataDir = join(workDir, 'data');
  const modelFile = await breastModel();
  medclass(['publish', modelFile, '--data', dataDir, '--service', 'demo', '--modes', 'original,reduced,features']);
  await useCpuBackend();
  model = parseModel(readFileSync(modelFile, 'utf8'));

  const files = (['breastmnist', 'retinamnist'] as const).flatMap((set) => splitImages(set, 'test', set === 'breastmnist' ? 4 : 1));
  for (const [i, file] of files.entries()) {
    const png = new Uint8Array(readFileSync(file));
    const prepared = prepareImage(decodeImage(png), model.spec);
    const [values] = await extractBatch([prepared], model.spec);
    sent.push({
      file,
      png,
      pixels8: new Uint8Array(decodePng(png).data.buffer.slice(0)),
      width: prepared.width,
      height: prepared.height,
      reduced: Float32Array.from(prepared.data),
      features: featureVector(values!, model.spec, prepared.height, prepared.width),
      // what a patient could be known by, were names kept
      name: `Patient_Jane_Roe_${1950 + i}-0${(i % 9) + 1}-1${i % 10}_MRN${730000 + i * 7919}.png`,
    });
  }

  server = await startServerProcess({ dataDir });
  // a test process that dies (killed, timed out) must not leave the server running
  process.once('exit', () => server.child.kill('SIGKILL'));
  token = (await login(server, 'admin', ADMIN_PASSWORD)).token;
  const client = await MedclassClient.connect(await connectWebSocket(server.url), await parsePin(server.pin));
  try {
    await client.resume(token);
    for (const s of sent) {
      const images: Record<keyof typeof requests, ClassifyImage> = {
        original: { mode: 'original', name: s.name, data: s.png },
        reduced: { mode: 'reduced', name: s.name, data: { width: s.width, height: s.height, pixels: packFloat32(s.reduced) } },
        features: { mode: 'features', name: s.name, data: { vector: packFloat64(s.features) } },
      };
      for (const mode of ['original', 'reduced', 'features'] as const) {
        const [r] = await client.classify('demo', [images[mode]]);
        expect(r?.ok, `${s.file} ${mode}: ${JSON.stringify(r)}`).toBe(true);
        requests[mode]++;
      }
    }
    // and a few in one request each, as the web app batches them
    for (const mode of ['original', 'reduced', 'features'] as const) {
      const results = await client.classify(
        'demo',
        sent.map((s) =>
          mode === 'original'
            ? { mode, data: s.png }
            : mode === 'reduced'
              ? { mode, data: { width: s.width, height: s.height, pixels: packFloat32(s.reduced) } }
              : { mode, data: { vector: packFloat64(s.features) } },
        ),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      requests[mode]++;
    }
    // the paths that log or refuse: undecodable, wrong sizes, values the model cannot score
    const s0 = sent[0]!;
    const refused = await client.classify('demo', [
      { mode: 'original', name: s0.name, data: s0.png.slice(0, s0.png.length >> 1) },
      { mode: 'reduced', name: s0.name, data: { width: s0.width / 2, height: s0.height * 2, pixels: packFloat32(s0.reduced) } },
      { mode: 'features', name: s0.name, data: { vector: packFloat64(s0.features.subarray(1)) } },
    ]);
    expect(refused.map((r) => r.ok)).toEqual([false, false, false]);
    errorRequests++;
    const withNaN = s0.reduced.slice();
    withNaN[5] = NaN;
    await Promise.race([
      client.classify('demo', [{ mode: 'reduced', name: s0.name, data: { width: s0.width, height: s0.height, pixels: packFloat32(withNaN) } }]).catch(() => undefined),
      new Promise((r) => setTimeout(r, 3_000)),
    ]);
    errorRequests++;
  } finally {
    client.close();
  }
  // a connection that never authenticates, and one that breaks the channel
  const anonymous = await MedclassClient.connect(await connectWebSocket(server.url), await parsePin(server.pin));
  await expect(anonymous.classify('demo', [{ mode: 'original', name: sent[1]!.name, data: sent[1]!.png }])).rejects.toThrow(/log in first/);
  anonymous.close();
  const transport = await connectWebSocket(server.url);
  const broken = await MedclassClient.connect(transport, await parsePin(server.pin));
  const closed = new Promise<void>((r) => (transport.onClose = () => r()));
  transport.send(Uint8Array.of(3, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 16, ...new Uint8Array(16)));
  await closed;
  void broken;
  // let the audit rows and log lines of the last requests land
  await new Promise((r) => setTimeout(r, 300));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

let cachedSecrets: ReturnType<typeof makeSecrets> | null = null;
const secrets = () => (cachedSecrets ??= makeSecrets());

function makeSecrets(): { index: WindowIndex; numbers: Map<string, string>; strings: { what: string; text: string }[] } {
  const index = new WindowIndex();
  const numbers = new Map<string, string>();
  for (const s of sent) {
    const base = s.file.split('/').slice(-4).join('/'); // <set>/<split>/<label>/<file>
    for (const e of encodings(`PNG ${base}`, s.png, true)) index.add(e);
    index.add({ what: `decoded 8-bit pixels of ${base}`, bytes: s.pixels8 });
    for (const e of encodings(`reduced float32 pixels of ${base}`, packFloat32(s.reduced), true)) index.add(e);
    for (const e of encodings(`float64 features of ${base}`, packFloat64(s.features), true)) index.add(e);
    for (const v of s.reduced) if (String(v).match(LONG_NUMBER)?.[0] === String(v)) numbers.set(String(v), `a reduced pixel value of ${base}`);
    for (const v of s.features) if (String(v).match(LONG_NUMBER)?.[0] === String(v)) numbers.set(String(v), `a feature value of ${base}`);
  }
  const strings = [
    { what: 'the login token', text: token },
    { what: 'the admin password', text: ADMIN_PASSWORD },
    ...sent.map((s) => ({ what: `the image name ${s.name}`, text: s.name })),
  ];
  return { index, numbers, strings };
}

/** Everything found of the secrets in one haystack. */
function leaks(where: string, haystack: Uint8Array, s: ReturnType<typeof secrets>): string[] {
  const found = s.index.find(haystack).map((f) => `${where}: ${f}`);
  const text = Buffer.from(haystack).toString('latin1');
  for (const { what, text: needle } of s.strings) if (text.includes(needle)) found.push(`${where}: ${what}`);
  for (const m of text.matchAll(LONG_NUMBER)) {
    const hit = s.numbers.get(m[0]);
    if (hit) found.push(`${where}: ${hit} (${m[0]}) at ${m.index}`);
  }
  return found;
}

describe('privacy: no image bytes at rest or in the logs', () => {
  it('classified every image in every mode', () => {
    expect(sent.length).toBeGreaterThanOrEqual(8);
    expect(requests).toEqual({ original: sent.length + 1, reduced: sent.length + 1, features: sent.length + 1 });
  });

  it('the scanner finds each kind of secret when it is there (a control)', () => {
    const s = secrets();
    const s1 = sent[1]!;
    const noise = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 97 + 13) & 0xff);
    const embed = (...parts: (Uint8Array | string)[]) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
    const cases: [RegExp, Uint8Array][] = [
      [/PNG \S+ @/, embed(noise(100), s1.png.subarray(200, 240), noise(50))],
      [/PNG \S+ \(base64\+/, embed('{"x":"', Buffer.from(s1.png.subarray(101, 160)).toString('base64'), '"}')],
      [/PNG \S+ \(hex\)/, embed(Buffer.from(s1.png.subarray(300, 340)).toString('hex'))],
      [/PNG \S+ \(decimal list\)/, embed(`[${Array.from(s1.png.subarray(500, 560)).join(',')}]`)],
      [/decoded 8-bit/, embed(noise(7), s1.pixels8.subarray(400, 440))],
      [/reduced float32 pixels of \S+ @/, embed(noise(3), packFloat32(s1.reduced).subarray(1001, 1040))],
      [/float64 features of \S+ @/, embed(packFloat64(s1.features).subarray(64, 100), noise(3))],
      [/a feature value/, embed(`{"v":${String([...s1.features].find((v) => String(v).length > 12))}}`)],
      [/the login token/, embed(`Bearer ${token}`)],
      [/the admin password/, embed(`{"password":"${ADMIN_PASSWORD}"}`)],
    ];
    for (const [what, haystack] of cases) expect(leaks('control', haystack, s).join('\n')).toMatch(what);
  });

  it('finds no image bytes, pixels, features, names, token or password in the data folder while it runs, nor in the log', () => {
    const s = secrets();
    expect(s.index.indexed).toBeGreaterThan(10_000);
    const files = filesUnder(dataDir);
    const names = files.map((f) => relative(dataDir, f));
    expect(names).toContain('medclass.db');
    expect(names).toContain('identity.pem');
    // nothing but the store (which holds the key that signs device tokens) and the identity
    expect(names.filter((n) => !/^(medclass\.db(-wal|-shm)?|identity\.pem)$/.test(n))).toEqual([]);
    const found: string[] = [];
    let scanned = 0;
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(f));
      scanned += bytes.length;
      found.push(...leaks(relative(dataDir, f), bytes, s));
    }
    const log = server.output();
    found.push(...leaks('the log', new Uint8Array(Buffer.from(log, 'utf8')), s));
    expect(found).toEqual([]);
    // the scan looked at something real: the db holds the model, the log a line per session
    expect(scanned).toBeGreaterThan(100_000);
    expect(log).toContain('session open');
    expect(log).toContain('session closed on a protocol error');
    console.log(
      `privacy scan: ${files.length} files (${names.join(', ')}), ${(scanned / 2 ** 20).toFixed(2)} MiB, and ${log.length} characters of log; ` +
        `${s.index.indexed} windows searched (${s.index.skipped} uninformative ones left out), ${s.numbers.size} decimal values, ${s.strings.length} strings`,
    );
  });

  it('keeps only the documented fields in the audit trail', () => {
    const db = new Database(join(dataDir, 'medclass.db'), { readonly: true, fileMustExist: true });
    try {
      const columns = (db.prepare('PRAGMA table_info(audit)').all() as { name: string }[]).map((c) => c.name);
      expect(columns).toEqual(['id', 'at', 'user', 'action', 'service', 'model_version', 'outcome', 'detail']);
      const rows = db.prepare('SELECT * FROM audit ORDER BY id').all() as AuditTableRow[];
      const classify = rows.filter((r) => r.action === 'classify');
      expect(classify.length).toBe(requests.original + requests.reduced + requests.features + errorRequests);
      const allowedDetail: Record<string, (v: unknown) => boolean> = {
        images: (v) => Number.isInteger(v),
        failed: (v) => Number.isInteger(v),
        mode: (v) => v === 'original' || v === 'reduced' || v === 'features',
        decryptMs: (v) => typeof v === 'number',
        decodeMs: (v) => typeof v === 'number',
        extractMs: (v) => typeof v === 'number',
        classifyMs: (v) => typeof v === 'number',
        via: (v) => v === 'cli' || v === 'publish' || v === 'makeCurrent',
        // a change of a service's privacy modes, and a rollback: modes and versions only
        from: (v) => typeof v === 'string' && /^[a-z,]*$/.test(v),
        to: (v) => typeof v === 'string' && /^[a-z,]+$/.test(v),
        modes: (v) => typeof v === 'string' && /^[a-z,]+$/.test(v),
        previousVersion: (v) => Number.isInteger(v),
      };
      for (const r of rows) {
        expect(r.at, JSON.stringify(r)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        expect([null, 'admin', 'medclass publish']).toContain(r.user);
        expect(['login', 'resume', 'logout', 'classify', 'publish', 'rollback', 'modes']).toContain(r.action);
        expect([null, 'demo']).toContain(r.service);
        expect(r.model_version === null || Number.isInteger(r.model_version)).toBe(true);
        expect(r.outcome).toMatch(/^[A-Za-z]{1,40}$/);
        if (r.detail !== null) {
          const detail = JSON.parse(r.detail) as Record<string, unknown>;
          for (const [k, v] of Object.entries(detail)) {
            expect(Object.keys(allowedDetail), `audit row ${r.id}: detail field ${k}`).toContain(k);
            expect(allowedDetail[k]!(v), `audit row ${r.id}: ${k} = ${JSON.stringify(v)}`).toBe(true);
          }
        }
      }
      // the refused request's first image is an original, the one with NaN a reduced one
      const modes = classify.map((r) => (JSON.parse(r.detail ?? '{}') as { mode?: string }).mode);
      expect(modes.filter((m) => m === 'original').length).toBe(requests.original + 1);
      expect(modes.filter((m) => m === 'reduced').length).toBe(requests.reduced + 1);
      expect(modes.filter((m) => m === 'features').length).toBe(requests.features);
    } finally {
      db.close();
    }
  });

  it('finds nothing in the data folder after the server stopped (the WAL checkpointed into the db)', async () => {
    const s = secrets();
    await server.stop();
    const files = filesUnder(dataDir);
    const found: string[] = [];
    for (const f of files) found.push(...leaks(relative(dataDir, f), new Uint8Array(readFileSync(f)), s));
    found.push(...leaks('the whole log', new Uint8Array(Buffer.from(server.output(), 'utf8')), s));
    expect(found).toEqual([]);
    expect(files.reduce((n, f) => n + statSync(f).size, 0)).toBeGreaterThan(100_000);
  }, 60_000);
});
