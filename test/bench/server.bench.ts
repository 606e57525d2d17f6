/**
 * npm run bench:server [-- --clients 64 --seconds 20 --mode-seconds 6 --rate R --profile]
 *                       [-- --database sqlite|postgres --instances N]
 *
 * The classification service end to end, as clients see it: trains (size 64) and publishes a
 * model on BreastMNIST, starts a real `medclass serve` process, and runs N concurrent
 * MedclassClients (the real handshake, sealed frames and messages over WebSockets), each
 * classifying real RetinaMNIST and BreastMNIST test images one request at a time, back to back:
 * a main run in reduced mode at 64x64, open-loop runs at a fixed offered load (--rate, else
 * 50% and 80% of the closed-loop throughput: latency that is not only queueing), then a
 * shorter run in each mode (original, reduced, features). It prints throughput, latency
 * percentiles, bytes per request, the server's stage timings (from the results), client-side
 * seal/open timings, where the CPU went (per process,
 * and a calibration of the channel's own cost per request), the server's peak memory (VmHWM)
 * and the load average (the machine may be shared).
 *
 * --database postgres runs the server on a throwaway Postgres (test/postgres_cluster.ts, with
 * pg_stat_statements loaded) and --instances N starts N `medclass serve` processes on it with
 * one identity key, the clients spread round-robin over them; it also prints the database's
 * own time per classification (the sum of pg_stat_statements' total_exec_time over the main
 * run: server-side execution, without the round trips). The default is one instance on SQLite.
 *
 * --profile also runs the server under `node --cpu-prof` (main thread and classification
 * workers) for a reduced run and prints the self time by area.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyImages } from '../../shared/classify/classify_images.ts';
import { connectWebSocket } from '../../server/client/ws_transport.ts';
import { login } from '../channel_login.ts';
import { useCnnBackend, useCpuBackend } from '../../server/features/backend.ts';
import { PROJECT_ROOT } from '../../server/paths.ts';
import { parseModel, type LoadedModel } from '../../shared/classify/model.ts';
import { MedclassClient } from '../../shared/client/client.ts';
import { extractBatch, featureVector, prepareImage } from '../../shared/features/extract.ts';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../../shared/image/index.ts';
import { parsePin, type Pin } from '../../shared/protocol/identity.ts';
import { encodeMessage, packFloat32, packFloat64, type ClassifyImage, type ImageMode, type ServerMessage } from '../../shared/protocol/messages.ts';
import type { ClientSession } from '../../shared/protocol/session.ts';
import { generateIdentity, pinOf } from '../../shared/protocol/identity.ts';
import { acceptClientSession, startClientSession } from '../../shared/protocol/session.ts';
import { setFrameAead } from '../../shared/protocol/frames.ts';
import { nodeFrameAead } from '../../server/crypto/node_aead.ts';
import { newIdentityPem } from '../../server/identity_source.ts';
import { dataset, splitImages } from '../golden.ts';
import { startPostgresCluster, type PostgresCluster } from '../postgres_cluster.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from '../server_process.ts';

/** The bench is one user with 64 connections measuring the whole server: lift the per-user shares. */
const BENCH_LIMITS = JSON.stringify({ imagesPerMinute: 1e9, shares: { inFlightPerUser: 4096, inFlightTotal: 4096, queuedBytesPerUser: 2 ** 31, queuedBytesTotal: 2 ** 31 } });

// ---------------------------------------------------------------------------------------------
// Options

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} takes a positive number`);
  return v;
}
const CLIENTS = Math.round(option('clients', 64));
const SECONDS = option('seconds', 20);
const MODE_SECONDS = option('mode-seconds', Math.max(2, Math.round(SECONDS / 3)));
const RATE = option('rate', 0);
const PROFILE = process.argv.includes('--profile');
const INSTANCES = Math.round(option('instances', 1));
const DATABASE = (() => {
  const i = process.argv.indexOf('--database');
  const v = i < 0 ? 'sqlite' : process.argv[i + 1];
  if (v !== 'sqlite' && v !== 'postgres') throw new Error('--database takes sqlite or postgres');
  return v;
})();
if (INSTANCES > 1 && DATABASE === 'sqlite') throw new Error('--instances above 1 needs --database postgres: a SQLite data folder belongs to one process');
const SIZE = 64;
const SERVICE = 'demo';
/** A CNN service beside it (BreastMNIST, 28x28 pixels, the default widths): throughput only, so a few epochs. */
const CNN_SERVICE = 'cnn';
const CNN_EPOCHS = 5;

const say = (line = '') => process.stdout.write(`${line}\n`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const ms = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// ---------------------------------------------------------------------------------------------
// Model, server, images

function medclass(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, MEDCLASS_FROM_SOURCE: '1', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface BenchImage {
  file: string;
  original: ClassifyImage;
  reduced: ClassifyImage;
  features: ClassifyImage;
}

function testFiles(): string[] {
  const bySet = (['retinamnist', 'breastmnist'] as const).map((set) => splitImages(set, 'test'));
  // interleaved, so that every stretch of the run holds both sets
  const [a, b] = bySet as [string[], string[]];
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

async function prepareImages(model: LoadedModel): Promise<BenchImage[]> {
  const files = testFiles();
  const out: BenchImage[] = [];
  const BATCH = 64;
  for (let i = 0; i < files.length; i += BATCH) {
    const chunk = files.slice(i, i + BATCH);
    const pngs = chunk.map((f) => new Uint8Array(readFileSync(f)));
    const prepared = pngs.map((png) => prepareImage(decodeImage(png), model.spec));
    const values = await extractBatch(prepared, model.spec);
    chunk.forEach((file, k) => {
      const p = prepared[k]!;
      out.push({
        file,
        original: { mode: 'original', data: pngs[k]! },
        reduced: { mode: 'reduced', data: { width: p.width, height: p.height, pixels: packFloat32(Float32Array.from(p.data)) } },
        features: { mode: 'features', data: { vector: packFloat64(featureVector(values[k]!, model.spec, p.height, p.width)) } },
      });
    });
  }
  return out;
}

/** utime + stime of a process (all its threads), or of one thread of it, in ms. */
function cpuMs(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
/** utime + stime of each thread of a process, in ms, by thread id. */
function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), cpuMs(pid, Number(tid)));
    } catch {
      // the thread ended
    }
  }
  return out;
}
/**
 * Splits a run's server CPU by thread: the main thread (its id is the pid), the classification
 * workers (the busiest other threads, one per core: piscina's), and the rest (libuv's pool,
 * where WebCrypto's AES-GCM and HKDF run, V8's GC helpers).
 */
function splitThreads(pid: number, before: Map<number, number>, after: Map<number, number>, workers: number): { main: number; workers: number; rest: number } {
  const deltas = [...after.entries()].map(([tid, v]) => ({ tid, ms: v - (before.get(tid) ?? 0) }));
  const main = deltas.find((d) => d.tid === pid)?.ms ?? 0;
  const others = deltas.filter((d) => d.tid !== pid).sort((a, b) => b.ms - a.ms);
  const w = others.slice(0, workers).reduce((n, d) => n + d.ms, 0);
  const rest = others.slice(workers).reduce((n, d) => n + d.ms, 0);
  return { main, workers: w, rest };
}
/** CPU of a Postgres cluster's processes (the postmaster and its children: backends, writers), in ms, by pid. */
function postgresCpuMs(dataDir: string): Map<number, number> {
  const out = new Map<number, number>();
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (Number(entry) === postmaster || ppid === postmaster) out.set(Number(entry), cpuMs(Number(entry)));
    } catch {
      // the process ended
    }
  }
  return out;
}
function vmHwmMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------------------------------------
// Clients

interface Timed {
  sealMs: number[];
  openMs: number[];
}

/** A MedclassClient whose session's seal and open are timed (wall time of each call). */
async function timedClient(server: ServerProcess, pin: Pin, token: string, timed: Timed): Promise<MedclassClient> {
  const client = await MedclassClient.connect(await connectWebSocket(server.url), pin);
  const session = (client as unknown as { session: ClientSession }).session;
  const seal = session.seal.bind(session);
  const open = session.open.bind(session);
  session.seal = async (m) => {
    const t = performance.now();
    const frame = await seal(m);
    timed.sealMs.push(performance.now() - t);
    return frame;
  };
  session.open = async (f) => {
    const t = performance.now();
    const m = await open(f);
    timed.openMs.push(performance.now() - t);
    return m;
  };
  await client.resume(token);
  return client;
}

interface RunResult {
  mode: ImageMode;
  clients: number;
  seconds: number;
  done: number;
  errors: Map<string, number>;
  latencies: number[];
  stages: { decryptMs: number[]; decodeMs: number[]; extractMs: number[]; classifyMs: number[] };
  timed: Timed;
  serverCpuMs: number;
  threads: { main: number; workers: number; rest: number };
  clientCpuMs: number;
  wrongLabels: number;
  checkedLabels: number;
}

async function run(
  clients: MedclassClient[],
  timed: Timed,
  images: BenchImage[],
  mode: ImageMode,
  seconds: number,
  serverPids: readonly number[],
  expected: Map<string, string>,
  /** Open loop: requests per second offered in all, each client at its share, whether or not answers came. 0: closed loop. */
  rate = 0,
  service = SERVICE,
): Promise<RunResult> {
  timed.sealMs.length = 0;
  timed.openMs.length = 0;
  const r: RunResult = {
    mode,
    clients: clients.length,
    seconds,
    done: 0,
    errors: new Map(),
    latencies: [],
    stages: { decryptMs: [], decodeMs: [], extractMs: [], classifyMs: [] },
    timed,
    serverCpuMs: 0,
    threads: { main: 0, workers: 0, rest: 0 },
    clientCpuMs: 0,
    wrongLabels: 0,
    checkedLabels: 0,
  };
  const serversCpu = () => serverPids.reduce((n, pid) => n + cpuMs(pid), 0);
  const server0 = serversCpu();
  const threads0 = serverPids.map(threadCpuMs);
  const client0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = async (client: MedclassClient, img: BenchImage) => {
    const t = performance.now();
    try {
      const [res] = await client.classify(service, [img[mode]]);
      const lat = performance.now() - t;
      if (!res?.ok) {
        const code = res ? res.code : 'none';
        r.errors.set(code, (r.errors.get(code) ?? 0) + 1);
        return;
      }
      r.done++;
      r.latencies.push(lat);
      for (const s of ['decryptMs', 'decodeMs', 'extractMs', 'classifyMs'] as const) r.stages[s].push(res.timings[s]);
      const want = expected.get(img.file);
      if (want !== undefined) {
        r.checkedLabels++;
        if (want !== res.label) r.wrongLabels++;
      }
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'exception';
      r.errors.set(code, (r.errors.get(code) ?? 0) + 1);
      if (!rate) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await Promise.all(
    clients.map(async (client, c) => {
      if (!rate) {
        for (let k = 0; performance.now() < end; k++) await one(client, images[(k * clients.length + c) % images.length]!);
        return;
      }
      // open loop: this client's requests at fixed times, staggered against the others'
      const every = (clients.length * 1000) / rate;
      const pending: Promise<void>[] = [];
      for (let k = 0; ; k++) {
        const at = start + (c / clients.length) * every + k * every;
        if (at >= end) break;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        pending.push(one(client, images[(k * clients.length + c) % images.length]!));
      }
      await Promise.all(pending);
    }),
  );
  r.seconds = (performance.now() - start) / 1000;
  r.serverCpuMs = serversCpu() - server0;
  for (const [i, pid] of serverPids.entries()) {
    const t = splitThreads(pid, threads0[i]!, threadCpuMs(pid), cpus().length);
    r.threads.main += t.main;
    r.threads.workers += t.workers;
    r.threads.rest += t.rest;
  }
  const c1 = process.cpuUsage(client0);
  r.clientCpuMs = (c1.user + c1.system) / 1000;
  r.latencies.sort((a, b) => a - b);
  return r;
}

/** Bytes one request puts on the wire: the sealed frame (envelope + 36), and with the WebSocket frame header and mask. */
function wireBytes(image: ClassifyImage): { frame: number; websocket: number } {
  const envelope = encodeMessage({ type: 'classify', requestId: MedclassClient.newRequestId(), service: SERVICE, images: [image] }, 'client');
  const frame = envelope.length + 36;
  const header = frame < 126 ? 2 : frame < 65536 ? 4 : 10;
  return { frame, websocket: frame + header + 4 };
}

// ---------------------------------------------------------------------------------------------
// The channel's own cost per request, measured alone (one core, in order, no other load here)

async function channelCost(image: ClassifyImage): Promise<{ clientSealMs: number; serverOpenMs: number; serverSealMs: number; clientOpenMs: number; totalMs: number }> {
  // Each end as it runs: the client on WebCrypto (a browser's), the server on node:crypto, as
  // the server process installs it (the sealers take the provider in force when the session starts).
  const identity = await generateIdentity();
  const start = await startClientSession(await pinOf(identity));
  setFrameAead(nodeFrameAead);
  const accepted = await acceptClientSession(start.hello, identity);
  setFrameAead(null);
  const server = accepted.session;
  const client = await start.finish(accepted.reply);
  const result: ServerMessage = {
    type: 'result',
    requestId: 'r1',
    index: 0,
    label: '1',
    scores: { '0': 0.25, '1': 0.75 },
    modelVersion: 1,
    timings: { decryptMs: 0.31, decodeMs: 0, extractMs: 0.52, classifyMs: 0.44 },
  };
  const request = { type: 'classify' as const, requestId: 'r1', service: SERVICE, images: [image] };
  const t = { clientSealMs: 0, serverOpenMs: 0, serverSealMs: 0, clientOpenMs: 0 };
  // CPU time of this process (all its threads: WebCrypto's AES runs on libuv's; node:crypto on this one), not wall time: the machine may be busy
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const N = 600;
  for (let i = 0; i < N + 100; i++) {
    const a = cpu();
    const f1 = await client.seal(request);
    const b = cpu();
    await server.open(f1);
    const c = cpu();
    const f2 = await server.seal(result);
    const d = cpu();
    await client.open(f2);
    const e = cpu();
    if (i >= 100) {
      t.clientSealMs += b - a;
      t.serverOpenMs += c - b;
      t.serverSealMs += d - c;
      t.clientOpenMs += e - d;
    }
  }
  const per = { clientSealMs: t.clientSealMs / N, serverOpenMs: t.serverOpenMs / N, serverSealMs: t.serverSealMs / N, clientOpenMs: t.clientOpenMs / N };
  return { ...per, totalMs: per.clientSealMs + per.serverOpenMs + per.serverSealMs + per.clientOpenMs };
}

// ---------------------------------------------------------------------------------------------
// Profile: self time by area, from .cpuprofile files

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, fn: string): string {
  if (fn === '(idle)' || (fn === 'atomicsWaitLoop' && url.includes('piscina'))) return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('/shared/protocol/frames') || url.includes('/shared/protocol/session') || url.includes('/shared/protocol/bytes')) return 'channel: frames/session';
  if (url.includes('/shared/protocol/messages') || url.includes('/shared/features/spec')) return 'channel: envelope, messages';
  if (url.includes('node_modules/zod')) return 'channel: zod validation';
  if (url.includes('internal/crypto') || /^(encrypt|decrypt|digest|sign|verify|deriveBits|importKey)$/.test(fn)) return 'channel: WebCrypto (JS side)';
  if (url.includes('node_modules/ws') || /^(writev|writeBuffer|writeUtf8String|onStreamRead)$/.test(fn) || url.includes('internal/stream') || url.includes('node:net')) return 'WebSocket + socket I/O';
  if (url.includes('node_modules/fastify') || url.includes('node_modules/@fastify') || url.includes('node_modules/pino')) return 'fastify/pino';
  if (url.includes('/server/channel/')) return 'connection handling';
  if (url.includes('node_modules/piscina') || url.includes('internal/worker') || fn === 'postMessage' || url.includes('structured')) return 'worker pool hand-off (piscina, postMessage)';
  if (url.includes('better-sqlite3') || url.includes('/server/store/')) return 'store: findService + audit (SQLite)';
  if (url.includes('/shared/features/') || url.includes('tfjs') || url.includes('/shared/image/') || url.includes('fast-png') || url.includes('fflate')) return 'extraction (features, decode)';
  if (url.includes('/shared/classify/') || url.startsWith('wasm://')) return 'classification (SVM, linalg, wasm)';
  if (url.includes('/server/classify/')) return 'classify task glue';
  if (url.includes('/shared/client/')) return 'client';
  if (url.startsWith('node:') || url === '') return 'node internals / native';
  return 'other JS';
}

/** Self time by area, counting only the samples between `fromEnd` and `toEnd` ms before the profile's end. */
function profileAreas(file: string, fromEnd: number, toEnd: number): { total: number; idle: number; areas: Map<string, number>; top: [string, number][] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    at += p.timeDeltas[i] ?? 0;
    const beforeEnd = (p.endTime - at) / 1000;
    if (beforeEnd > fromEnd || beforeEnd < toEnd) return;
    const n = byId.get(id);
    if (!n) return;
    const a = area(n.callFrame.url, n.callFrame.functionName);
    if (a === 'idle') {
      idle += dt;
      return;
    }
    areas.set(a, (areas.get(a) ?? 0) + dt);
    const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|shared|server)\//, '$1/')}`;
    fns.set(name, (fns.get(name) ?? 0) + dt);
    total += dt;
  });
  return { total, idle, areas, top: [...fns.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12) };
}

// ---------------------------------------------------------------------------------------------

function report(r: RunResult, label: string): void {
  const lat = r.latencies;
  const errors = [...r.errors.entries()].map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
  say(
    `${label.padEnd(10)} ${(r.done / r.seconds).toFixed(0).padStart(6)}/s  p50 ${ms(percentile(lat, 50)).padStart(6)}  p95 ${ms(percentile(lat, 95)).padStart(6)}  p99 ${ms(percentile(lat, 99)).padStart(6)}  max ${ms(lat.at(-1)).padStart(7)} ms  ` +
      `(${r.done} in ${r.seconds.toFixed(1)} s; errors: ${errors}; labels checked ${r.checkedLabels}, wrong ${r.wrongLabels})`,
  );
}

function threadLine(r: RunResult): string {
  const t = r.threads;
  return `main thread ${ms(t.main / r.done, 3)} ms, classification workers ${ms(t.workers / r.done, 3)} ms, other threads (libuv pool: AES-GCM/HKDF; GC helpers) ${ms(t.rest / r.done, 3)} ms`;
}

function stages(r: RunResult): string {
  const s = r.stages;
  return `server decrypt ${ms(mean(s.decryptMs), 3)}  decode ${ms(mean(s.decodeMs), 3)}  extract ${ms(mean(s.extractMs), 3)}  classify ${ms(mean(s.classifyMs), 3)} ms; client seal ${ms(mean(r.timed.sealMs), 3)}  open ${ms(mean(r.timed.openMs), 3)} ms (means, wall time)`;
}

async function main(): Promise<void> {
  say(`MedClass server benchmark: ${CLIENTS} clients, ${SECONDS} s reduced 64x64, ${MODE_SECONDS} s per mode; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
  say(`configuration: ${INSTANCES} instance${INSTANCES > 1 ? 's' : ''} on ${DATABASE === 'postgres' ? 'Postgres (a throwaway cluster on this machine)' : 'SQLite'}`);
  say(`load average at start: ${load()}`);
  const work = mkdtempSync(join(tmpdir(), 'medclass-bench-server-'));
  const dataDir = join(work, 'data');
  const modelFile = join(work, 'model.json');
  const servers: ServerProcess[] = [];
  let pg: PostgresCluster | null = null;
  const clients: MedclassClient[] = [];
  try {
    let t = performance.now();
    // Postgres: the instances share the database and one identity key, as behind a load balancer
    const dbEnv: Record<string, string> = {};
    if (DATABASE === 'postgres') {
      pg = await startPostgresCluster({ settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all'] });
      await pg.psql('CREATE EXTENSION pg_stat_statements');
      dbEnv['MEDCLASS_DATABASE_URL'] = pg.url;
      dbEnv['MEDCLASS_IDENTITY_KEY'] = (await newIdentityPem()).pem;
    }
    medclass(['train', dataset('breastmnist'), '--size', String(SIZE), '--out', modelFile]);
    medclass(['publish', modelFile, '--data', dataDir, '--service', SERVICE, '--modes', 'original,reduced,features'], dbEnv);
    await useCpuBackend();
    const model = parseModel(readFileSync(modelFile, 'utf8'));
    say(`model: BreastMNIST, size ${SIZE}, ${model.featureLength} features, labels ${model.labels.join('/')}; trained and published in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    const cnnFile = join(work, 'cnn.json');
    medclass(['train', dataset('breastmnist'), '--classifier', 'cnn', '--epochs', String(CNN_EPOCHS), '--out', cnnFile]);
    medclass(['publish', cnnFile, '--data', dataDir, '--service', CNN_SERVICE, '--modes', 'original,reduced,features'], dbEnv);
    const cnnModel = parseModel(readFileSync(cnnFile, 'utf8'));
    const cnnArchitecture = cnnModel.predictor.classifier.type === 'cnn' ? cnnModel.predictor.classifier.model.architecture : null;
    say(
      `CNN model: BreastMNIST, ${cnnModel.spec.size}x${cnnModel.spec.size} pixels, widths ${cnnArchitecture?.widths.join('-')}, ${CNN_EPOCHS} epochs (throughput does not depend on them); ` +
        `trained and published as '${CNN_SERVICE}' in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    t = performance.now();
    const images = await prepareImages(model);
    // the labels the server must give, for a sample of the images (computed here, with the same code)
    const expected = new Map<string, string>();
    for (const img of images.slice(0, 64)) {
      const [o] = await classifyImages(model, [{ mode: 'original', data: img.original.data as Uint8Array }], DEFAULT_DECODE_LIMITS);
      if (o?.ok) expected.set(img.file, o.label);
    }
    say(`images: ${images.length} test images (RetinaMNIST + BreastMNIST), prepared in each mode in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const cnnImages = await prepareImages(cnnModel);
    // the CNN's labels on the backend the server's workers use for it
    await useCnnBackend();
    const cnnExpected = new Map<string, string>();
    for (const img of cnnImages.slice(0, 64)) {
      const [o] = await classifyImages(cnnModel, [{ mode: 'original', data: img.original.data as Uint8Array }], DEFAULT_DECODE_LIMITS);
      if (o?.ok) cnnExpected.set(img.file, o.label);
    }
    const bytes = Object.fromEntries(
      (['original', 'reduced', 'features'] as const).map((m) => {
        const each = images.map((img) => wireBytes(img[m]));
        return [m, { frame: mean(each.map((e) => e.frame)), websocket: mean(each.map((e) => e.websocket)) }];
      }),
    ) as Record<ImageMode, { frame: number; websocket: number }>;

    // the first instance alone first: it makes the schema and the first admin
    servers.push(await startServerProcess({ dataDir, env: { MEDCLASS_LOG_LEVEL: 'info', MEDCLASS_LIMITS: BENCH_LIMITS, ...dbEnv } }));
    for (let i = 1; i < INSTANCES; i++) servers.push(await startServerProcess({ env: { MEDCLASS_LOG_LEVEL: 'info', MEDCLASS_LIMITS: BENCH_LIMITS, ...dbEnv }, args: ['--no-demo'] }));
    const server = servers[0]!;
    const pids = servers.map((s) => s.child.pid!);
    for (const s of servers) {
      const child = s.child;
      process.once('exit', () => child.kill('SIGKILL'));
    }
    if (new Set(servers.map((s) => s.pin)).size !== 1) throw new Error(`the instances present different identities: ${servers.map((s) => s.pin).join(', ')}`);
    const pin = await parsePin(server.pin);
    const { token } = await login(server, 'admin', ADMIN_PASSWORD);
    const timed: Timed = { sealMs: [], openMs: [] };
    // round-robin: client i on instance i mod N (what a balancer spreading new connections does)
    for (let i = 0; i < CLIENTS; i++) clients.push(await timedClient(servers[i % servers.length]!, pin, token, timed));
    const hwm = () => pids.map((p) => ms(vmHwmMiB(p), 0)).join(' + ');
    say(`server pid${pids.length > 1 ? 's' : ''} ${pids.join(', ')}, ${CLIENTS} clients connected and authenticated; VmHWM after start ${hwm()} MiB`);

    // warm up: JIT, the workers' model cache
    await run(clients, timed, images, 'reduced', 3, pids, expected);

    say();
    say('classifications per second, closed loop (one image per request, each client back to back: its latency is mostly queueing, see the open-loop runs):');
    if (pg) await pg.psql('SELECT pg_stat_statements_reset()');
    const pgCpu0 = pg ? postgresCpuMs(join(pg.dir, 'data')) : null;
    const main = await run(clients, timed, images, 'reduced', SECONDS, pids, expected);
    // read at once: the database's own execution time over the main run, all instances together
    const dbTime = pg
      ? (await pg.psql(`SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'`)).trim().split('|').map(Number)
      : null;
    const pgCpu = pg && pgCpu0 ? [...postgresCpuMs(join(pg.dir, 'data')).entries()].reduce((n, [p, v]) => n + v - (pgCpu0.get(p) ?? 0), 0) : null;
    report(main, 'reduced');
    if (dbTime) {
      say(
        `           database time per classification: ${ms(dbTime[0]! / main.done, 3)} ms executing in Postgres (${ms(dbTime[1]! / main.done, 1)} statements; pg_stat_statements total_exec_time, no round trips); ` +
          `Postgres processes' CPU ${ms(pgCpu! / main.done, 3)} ms`,
      );
    }
    say(`           ${stages(main)}`);
    say(`           CPU per classification: server ${ms(main.serverCpuMs / main.done, 3)} ms, bench clients ${ms(main.clientCpuMs / main.done, 3)} ms (load average now ${load()})`);
    say(`           server CPU by thread per classification: ${threadLine(main)}`);

    const capacity = main.done / main.seconds;
    const offered = RATE ? [RATE] : [Math.round(capacity * 0.5), Math.round(capacity * 0.8)];
    say();
    say(`latency at a fixed offered load (open loop: requests at set times over the ${CLIENTS} connections, answered or not), reduced, ${MODE_SECONDS} s each:`);
    let at80: (RunResult & { rate: number }) | null = null;
    for (const rate of offered) {
      const r = await run(clients, timed, images, 'reduced', MODE_SECONDS, pids, expected, rate);
      report(r, `${rate}/s`);
      if (!RATE && rate === offered[1]) at80 = { ...r, rate };
    }
    say(`           (the latency goal, p99 < 50 ms, is for these open-loop runs at 80% of capacity; the closed-loop figures above are throughput:`);
    say(`            ${CLIENTS} requests always in flight wait ${CLIENTS} / throughput on average (Little's law), whatever the server does)`);

    say();
    say(`each mode, ${MODE_SECONDS} s:`);
    const perMode: RunResult[] = [];
    for (const mode of ['original', 'reduced', 'features'] as const) {
      const r = await run(clients, timed, images, mode, MODE_SECONDS, pids, expected);
      perMode.push(r);
      report(r, mode);
      say(`           ${stages(r)}`);
      say(`           server CPU by thread per classification: ${threadLine(r)}`);
      say(`           ${ms(bytes[mode].frame, 0)} bytes per request sealed (${ms(bytes[mode].websocket, 0)} on the WebSocket); CPU per classification: server ${ms(r.serverCpuMs / r.done, 3)} ms, clients ${ms(r.clientCpuMs / r.done, 3)} ms`);
    }

    say();
    say(`CNN service '${CNN_SERVICE}' (${cnnModel.spec.size}x${cnnModel.spec.size}, widths ${cnnArchitecture?.widths.join('-')}, wasm backend in the classification workers), closed loop, ${MODE_SECONDS} s per mode:`);
    await run(clients, timed, cnnImages, 'reduced', 2, pids, cnnExpected, 0, CNN_SERVICE);
    const cnnRuns: RunResult[] = [];
    for (const mode of ['reduced', 'original'] as const) {
      const r = await run(clients, timed, cnnImages, mode, MODE_SECONDS, pids, cnnExpected, 0, CNN_SERVICE);
      cnnRuns.push(r);
      report(r, `cnn ${mode}`);
      say(`           ${stages(r)}`);
      say(`           CPU per classification: server ${ms(r.serverCpuMs / r.done, 3)} ms, clients ${ms(r.clientCpuMs / r.done, 3)} ms; server CPU by thread: ${threadLine(r)}`);
    }

    say();
    say('the channel alone (seal + open of the request and of its result, 600 runs; CPU time; client on WebCrypto, server on node:crypto as it runs):');
    const costs = new Map<ImageMode, Awaited<ReturnType<typeof channelCost>>>();
    for (const mode of ['original', 'reduced', 'features'] as const) {
      const c = await channelCost(images[0]![mode]);
      costs.set(mode, c);
      say(`  ${mode.padEnd(9)} client seal ${ms(c.clientSealMs, 3)}  server open ${ms(c.serverOpenMs, 3)}  server seal ${ms(c.serverSealMs, 3)}  client open ${ms(c.clientOpenMs, 3)}  = ${ms(c.totalMs, 3)} ms per request`);
    }

    say();
    say('share of the cost that is the channel (crypto + protocol), per classification:');
    for (const r of [main, ...perMode]) {
      const c = costs.get(r.mode)!;
      const serverCpu = r.serverCpuMs / r.done;
      const totalCpu = (r.serverCpuMs + r.clientCpuMs) / r.done;
      const serverChannel = c.serverOpenMs + c.serverSealMs;
      const work = mean(r.stages.decodeMs) + mean(r.stages.extractMs) + mean(r.stages.classifyMs);
      say(
        `  ${(r === main ? 'reduced*' : r.mode).padEnd(9)} server: channel ${ms(serverChannel, 3)} of ${ms(serverCpu, 3)} ms CPU = ${((100 * serverChannel) / serverCpu).toFixed(0)}%; ` +
          `both ends: ${ms(c.totalMs, 3)} of ${ms(totalCpu, 3)} ms = ${((100 * c.totalMs) / totalCpu).toFixed(0)}%; ` +
          `stage timings: decrypt ${ms(mean(r.stages.decryptMs), 3)} vs decode+extract+classify ${ms(work, 3)} ms = ${((100 * mean(r.stages.decryptMs)) / (mean(r.stages.decryptMs) + work)).toFixed(0)}%`,
      );
    }
    say('  (* the main run. Channel = the calibration above; CPU = process CPU time over the run / classifications.');
    say('   The rest of the server CPU is extraction and classification in the workers, and on the main thread the');
    say('   worker pool hand-off, WebSocket I/O, the store (service lookup, audit insert) and GC: see --profile.)');
    const perClassification = (main.serverCpuMs + main.clientCpuMs) / main.done;
    say(
      `  bound: server + clients use ${ms(perClassification, 3)} ms of CPU per classification, so ${cpus().length} idle cores could do at most ` +
        `${((cpus().length * 1000) / perClassification).toFixed(0)}/s (the server alone: ${((cpus().length * 1000) / (main.serverCpuMs / main.done)).toFixed(0)}/s)`,
    );

    say();
    say(`server peak memory (VmHWM): ${hwm()} MiB; load average at the end: ${load()}`);
    say(
      `summary: ${INSTANCES} x ${DATABASE}: ${(main.done / main.seconds).toFixed(0)}/s, p50 ${ms(percentile(main.latencies, 50))} ms, p99 ${ms(percentile(main.latencies, 99))} ms (closed loop, ${CLIENTS} clients)` +
        `${dbTime ? `, database ${ms(dbTime[0]! / main.done, 3)} ms per classification` : ''}; load average ${load()} on ${cpus().length} cores`,
    );
    const cnnMain = cnnRuns[0]!;
    say(
      `CNN service: ${(cnnMain.done / cnnMain.seconds).toFixed(0)}/s reduced ${cnnModel.spec.size}x${cnnModel.spec.size}, p50 ${ms(percentile(cnnMain.latencies, 50))} ms, p99 ${ms(percentile(cnnMain.latencies, 99))} ms ` +
        `(closed loop, ${CLIENTS} clients; server CPU ${ms(cnnMain.serverCpuMs / cnnMain.done, 3)} ms per classification); load average ${load()} on ${cpus().length} cores`,
    );
    const throughputMet = main.done / main.seconds >= 1000;
    say(`goal, throughput (>= 1000/s reduced 64x64, closed loop): ${throughputMet ? 'met' : 'NOT met'} (${(main.done / main.seconds).toFixed(0)}/s)`);
    if (at80) {
      const p99 = percentile(at80.latencies, 99);
      say(`goal, latency (p99 < 50 ms, open loop at 80% of capacity, ${at80.rate}/s offered): ${p99 < 50 ? 'met' : 'NOT met'} (p99 ${ms(p99)} ms)`);
    }
    for (const c of clients) c.close();
    clients.length = 0;
    await Promise.all(servers.splice(0).map((s) => s.stop()));

    if (PROFILE && DATABASE === 'sqlite' && INSTANCES === 1) await profile(dataDir, images, expected);
    else if (PROFILE) say('--profile runs with one instance on SQLite only');
  } finally {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop()));
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Like startServerProcess, with node's own --cpu-prof (NODE_OPTIONS may not carry it); the workers inherit it. */
async function startProfiledServer(dataDir: string, profileDir: string): Promise<ServerProcess> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const child = spawn(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=250', join(PROJECT_ROOT, 'server', 'medclass.js'), 'serve', '--data', dataDir, '--port', String(port)],
    { cwd: PROJECT_ROOT, env: { ...process.env, MEDCLASS_FROM_SOURCE: '1', MEDCLASS_LOG_LEVEL: 'info', MEDCLASS_LIMITS: BENCH_LIMITS }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  for (let waited = 0; !out.includes('MedClass is serving'); waited += 50) {
    if (child.exitCode !== null || waited > 120_000) throw new Error(`the profiled server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pin: /pin \(for medclass classify --pin\): (\S+)/.exec(out)![1]!,
    dataDir,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

async function profile(dataDir: string, images: BenchImage[], expected: Map<string, string>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'medclass-prof-'));
  say();
  say(`profile: the server under --cpu-prof, ${CLIENTS} clients, reduced, ${MODE_SECONDS} s (profiles in ${dir})`);
  const server = await startProfiledServer(dataDir, dir);
  const clients: MedclassClient[] = [];
  const window = { start: 0, end: 0 };
  try {
    const pin = await parsePin(server.pin);
    const { token } = await login(server, 'admin', ADMIN_PASSWORD);
    const timed: Timed = { sealMs: [], openMs: [] };
    for (let i = 0; i < CLIENTS; i++) clients.push(await timedClient(server, pin, token, timed));
    await run(clients, timed, images, 'reduced', 2, [server.child.pid!], expected);
    window.start = Date.now();
    const r = await run(clients, timed, images, 'reduced', MODE_SECONDS, [server.child.pid!], expected);
    window.end = Date.now();
    report(r, 'profiled');
    say(`           ${stages(r)}`);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
  const exited = Date.now();
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (!files.length) {
    say('  no profile was written');
    return;
  }
  say(`  self time over the measured run only (the last ${((exited - window.start) / 1000).toFixed(1)} to ${((exited - window.end) / 1000).toFixed(1)} s of each profile); thread 0 is the main thread, the others the classification workers`);
  let all = 0;
  const allAreas = new Map<string, number>();
  for (const f of files.sort()) {
    const { total, idle, areas, top } = profileAreas(join(dir, f), exited - window.start, exited - window.end);
    if (total < 50) continue;
    all += total;
    for (const [a, v] of areas) allAreas.set(a, (allAreas.get(a) ?? 0) + v);
    say(`  ${f}: ${(total / 1000).toFixed(2)} s busy, ${(idle / 1000).toFixed(2)} s idle (waiting for work)`);
    for (const [a, v] of [...areas.entries()].sort((x, y) => y[1] - x[1])) {
      say(`    ${a.padEnd(44)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(2)} s`);
    }
    say('    top functions (self time):');
    for (const [name, v] of top) say(`      ${((100 * v) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 110)}`);
  }
  say(`  all JavaScript threads together: ${(all / 1000).toFixed(2)} s busy (WebCrypto's AES and HKDF run on libuv's threads, not in these profiles)`);
  for (const [a, v] of [...allAreas.entries()].sort((x, y) => y[1] - x[1])) say(`    ${a.padEnd(44)} ${((100 * v) / all).toFixed(1).padStart(5)}%`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
