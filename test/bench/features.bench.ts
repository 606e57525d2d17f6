/**
 * npm run bench:features: the project's feature extraction against scikit-image (and
 * OpenCV's HOG) on the same real images, in one run; then `medclass features` on 3,000
 * 64x64 PNGs as a whole process against a Python script doing the same with PIL and
 * scikit-image, with the HOG vector in the output and without it. Every figure is the best
 * (and median) of several repeats, with the machine's load printed beside it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractBatch, type PreparedImage } from '../../shared/features/extract.ts';
import { HOG } from '../../shared/features/kernels/names.ts';
import { kernelRunner } from '../../shared/features/kernels/runner.ts';
import { resizeBilinear } from '../../shared/features/resize.ts';
import { DEFAULT_SPEC } from '../../shared/features/spec.ts';
import { decodeImage } from '../../shared/image/index.ts';
import { useServerKernels } from '../../server/features/server_kernels.ts';
import { realImageFiles, writeBenchPngs } from './bench_pngs.ts';

const PYTHON = '/usr/bin/python3';
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 5);

function hasPython(modules: string): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${modules}`]).status === 0;
}

const load = (): string => `load ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${availableParallelism()} cores`;

interface PerImage {
  min: number;
  median: number;
  /** The same of CPU time (this process's, user + system): steadier than wall time on a shared machine. */
  cpuMin: number;
  cpuMedian: number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Milliseconds per image: the best and the median of REPEATS runs of `fn` over the batch, each at least `seconds`, wall and CPU. */
async function perImage(images: number, fn: () => Promise<void> | void, seconds = 0.3): Promise<PerImage> {
  for (let i = 0; i < 3; i++) await fn();
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    let n = 0;
    const start = performance.now();
    const cpuStart = cpuMs();
    while (performance.now() - start < seconds * 1000) {
      await fn();
      n += images;
    }
    runs.push((performance.now() - start) / n);
    cpu.push((cpuMs() - cpuStart) / n);
  }
  runs.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { min: runs[0]!, median: runs[runs.length >> 1]!, cpuMin: cpu[0]!, cpuMedian: cpu[cpu.length >> 1]! };
}

const fmt = (ms: number) => `${(ms * 1000).toFixed(1).padStart(7)} us`;
const ratio = (peer: number | undefined, ours: number) => (peer === undefined ? '    -' : `${(peer / ours).toFixed(1).padStart(5)}x`);

async function kernels(): Promise<void> {
  // the server's and the command's way: the typed-array kernels without tfjs's dispatch
  useServerKernels();
  const BATCH = 64;
  const decoded = realImageFiles(BATCH).map((f) => decodeImage(new Uint8Array(readFileSync(f))));
  const python = hasPython('skimage');
  const opencv = hasPython('cv2');
  console.log(`feature extraction, all seven features (default spec), one core, ${BATCH} real images (BreastMNIST + RetinaMNIST); ${load()}`);
  console.log(python ? `peer: scikit-image${opencv ? ' and OpenCV' : ''} via ${PYTHON}` : `peer: none (${PYTHON} lacks scikit-image)`);
  console.log(`best of ${REPEATS} repeats (median in brackets); ratios best against best and median against median`);
  console.log('size   batch 1 (median)       batch 64     skimage (median)       vs skimage b1 (median)  b64    HOG alone  OpenCV HOG  vs OpenCV');
  const tmp = mkdtempSync(join(tmpdir(), 'medclass-bench-'));
  const cpuLines: string[] = [];
  try {
    for (const size of [64, 128, 256]) {
      const prepared: PreparedImage[] = decoded.map((img) => ({ width: size, height: size, data: resizeBilinear(img, size) }));
      const spec = { ...DEFAULT_SPEC, size };
      const one = await perImage(BATCH, async () => {
        for (const p of prepared) await extractBatch([p], spec);
      });
      const many = await perImage(BATCH, async () => void (await extractBatch(prepared, spec)));
      const stacked = new Float32Array(BATCH * size * size);
      prepared.forEach((p, k) => stacked.set(p.data, k * size * size));
      const session = kernelRunner().open(stacked, BATCH, size, size);
      const hogOnly = await perImage(BATCH, async () => void (await session.run(HOG, spec)));
      let peer: { skimageMs?: number; skimageMedianMs?: number; opencvHogMs?: number; skimageCpuMs?: number; skimageCpuMedianMs?: number; opencvHogCpuMs?: number } = {};
      if (python) {
        const file = join(tmp, `${size}.f32`);
        writeFileSync(file, stacked);
        peer = JSON.parse(execFileSync(PYTHON, [join(here, 'features_peer.py'), 'kernels', file, String(BATCH), String(size)], { encoding: 'utf8', env: { ...process.env, BENCH_REPEATS: String(REPEATS) } }));
      }
      const sk = peer.skimageMs;
      console.log(
        `${String(size).padEnd(5)} ${fmt(one.min)} (${fmt(one.median)}) ${fmt(many.min)}  ${sk ? `${fmt(sk)} (${fmt(peer.skimageMedianMs!)})` : '        -'}  ${ratio(sk, one.min)} (${ratio(peer.skimageMedianMs, one.median)}) ${ratio(sk, many.min)}  ${fmt(hogOnly.min)} ${peer.opencvHogMs ? fmt(peer.opencvHogMs) : '       -'}   ${peer.opencvHogMs ? `${(hogOnly.min / peer.opencvHogMs).toFixed(2)}x its time` : '-'}`,
      );
      const skc = peer.skimageCpuMs;
      cpuLines.push(
        `${String(size).padEnd(5)} ${fmt(one.cpuMin)} (${fmt(one.cpuMedian)}) ${fmt(many.cpuMin)}  ${skc ? `${fmt(skc)} (${fmt(peer.skimageCpuMedianMs!)})` : '        -'}  ${ratio(skc, one.cpuMin)} (${ratio(peer.skimageCpuMedianMs, one.cpuMedian)}) ${ratio(skc, many.cpuMin)}  ${fmt(hogOnly.cpuMin)} ${peer.opencvHogCpuMs ? fmt(peer.opencvHogCpuMs) : '       -'}   ${peer.opencvHogCpuMs ? `${(hogOnly.cpuMin / peer.opencvHogCpuMs).toFixed(2)}x its time` : '-'}`,
      );
    }
    console.log(`the same in CPU time per image (each process's own; ${load()})`);
    for (const line of cpuLines) console.log(line);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Wall and CPU seconds (user + system, children included) of a process, from start to exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { wall: number; cpu: number } {
  const start = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: root, encoding: 'utf8', env });
  const wall = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const [user, system] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall, cpu: user! + system! };
}

function wholeCommand(): void {
  const COUNT = 3000;
  const dir = mkdtempSync(join(tmpdir(), 'medclass-bench-pngs-'));
  try {
    const pngs = join(dir, 'pngs');
    writeBenchPngs(pngs, COUNT, 64);
    // The command users run is the compiled one: build it, so a stale build does not send it through tsx.
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.server.json')], { stdio: 'inherit' });
    const python = hasPython('skimage, PIL');
    console.log(`\nwhole command on ${COUNT} PNGs of 64x64 (BreastMNIST grey and RetinaMNIST colour, resized), from start to exit, written to a file`);
    console.log(`best of ${REPEATS} runs each, alternated; wall seconds (CPU seconds, user + system)${python ? '' : `; no peer (${PYTHON} lacks scikit-image or PIL)`}`);
    const medclass = join(root, 'server', 'medclass.js');
    const rows = [
      { what: 'with the HOG vector', ours: ['features', pngs, '--out', join(dir, 'ours.json')], peer: [join(here, 'features_peer.py'), 'cli', pngs, join(dir, 'peer.json')] },
      {
        what: 'six scalars, no HOG vector',
        ours: ['features', pngs, '--features', 'hogStats,glcm', '--out', join(dir, 'ours6.json')],
        peer: [join(here, 'features_peer.py'), 'cli', pngs, join(dir, 'peer6.json'), 'nohog'],
      },
      { what: 'with the HOG vector, --format npy', ours: ['features', pngs, '--format', 'npy', '--out', join(dir, 'ours.npy')], peer: null },
    ];
    const runs = Math.max(1, Math.min(REPEATS, 3));
    const best = (xs: { wall: number; cpu: number }[]) => xs.reduce((a, b) => (b.wall < a.wall ? b : a));
    for (const row of rows) {
      const ours: { wall: number; cpu: number }[] = [];
      const peer: { wall: number; cpu: number }[] = [];
      const loads: string[] = [];
      for (let r = 0; r < runs; r++) {
        loads.push(loadavg()[0]!.toFixed(1));
        ours.push(timed(process.execPath, [medclass, ...row.ours]));
        if (python && row.peer) peer.push(timed(PYTHON, row.peer));
      }
      const o = best(ours);
      const line = `${row.what.padEnd(34)} medclass (both cores) ${o.wall.toFixed(2)} s (${o.cpu.toFixed(2)} s CPU)`;
      if (!peer.length) console.log(`${line}; load ${loads.join(', ')}`);
      else {
        const p = best(peer);
        console.log(`${line}   PIL + scikit-image (one core) ${p.wall.toFixed(2)} s (${p.cpu.toFixed(2)} s CPU)   medclass ${(p.wall / o.wall).toFixed(1)}x faster (${(p.cpu / o.cpu).toFixed(1)}x less CPU); load ${loads.join(', ')}`);
      }
    }
    // Node reads these certificates at every start, before any of our code runs; Python does
    // not. Where the machine sets them, the figures above include that, and this says how much.
    const caCerts = process.env['NODE_EXTRA_CA_CERTS'];
    if (caCerts) {
      const scalars = rows[1]!.ours;
      const env = { ...process.env };
      delete env['NODE_EXTRA_CA_CERTS'];
      const withCerts: { wall: number; cpu: number }[] = [];
      const without: { wall: number; cpu: number }[] = [];
      for (let r = 0; r < runs; r++) {
        withCerts.push(timed(process.execPath, [medclass, ...scalars]));
        without.push(timed(process.execPath, [medclass, ...scalars], env));
      }
      const a = best(withCerts);
      const b = best(without);
      console.log(
        `this environment sets NODE_EXTRA_CA_CERTS (${caCerts}), which every Node process reads at start: six scalars ${a.wall.toFixed(2)} s (${a.cpu.toFixed(2)} s CPU) with it, ${b.wall.toFixed(2)} s (${b.cpu.toFixed(2)} s CPU) without (alternated)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// BENCH_PARTS=kernels or =command runs one half only.
const parts = (process.env['BENCH_PARTS'] ?? 'kernels,command').split(',');
if (parts.includes('kernels')) await kernels();
if (parts.includes('command')) wholeCommand();
