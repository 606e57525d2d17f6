/**
 * npm run bench:features: the project's feature extraction against scikit-image (and
 * OpenCV's HOG) on the same real images, in one run; then `medclass features` on 3,000 PNGs
 * as a whole process against a Python script doing the same with PIL and scikit-image.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractBatch, type PreparedImage } from '../../shared/features/extract.ts';
import { hog } from '../../shared/features/kernels/ops.ts';
import { resizeBilinear } from '../../shared/features/resize.ts';
import { DEFAULT_SPEC } from '../../shared/features/spec.ts';
import { decodeImage } from '../../shared/image/index.ts';
import { useCpuBackend } from '../../server/features/backend.ts';
import { tensor3d } from '@tensorflow/tfjs-core';
import { splitImages } from '../golden.ts';

const PYTHON = '/usr/bin/python3';
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');

function hasPython(modules: string): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${modules}`]).status === 0;
}

function realImageFiles(count: number): string[] {
  const files: string[] = [];
  for (const set of ['breastmnist', 'retinamnist'] as const) {
    for (const split of ['train', 'val', 'test']) files.push(...splitImages(set, split));
  }
  files.sort();
  // interleave the two sets so any prefix holds both
  const a = files.filter((f) => f.includes('breastmnist'));
  const b = files.filter((f) => f.includes('retinamnist'));
  const mixed: string[] = [];
  for (let i = 0; mixed.length < count; i++) mixed.push(a[i % a.length]!, b[i % b.length]!);
  return mixed.slice(0, count);
}

/** Milliseconds per image, running `fn` over the batch for at least `seconds`. */
async function perImage(images: number, fn: () => Promise<void> | void, seconds = 1): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await fn();
    n += images;
  }
  return (performance.now() - start) / n;
}

const fmt = (ms: number) => `${(ms * 1000).toFixed(1).padStart(8)} us`;
const ratio = (peer: number | undefined, ours: number) => (peer === undefined ? '    -' : `${(peer / ours).toFixed(1).padStart(5)}x`);

async function kernels(): Promise<void> {
  await useCpuBackend('cpu');
  const BATCH = 64;
  const decoded = realImageFiles(BATCH).map((f) => decodeImage(new Uint8Array(readFileSync(f))));
  const python = hasPython('skimage');
  const opencv = hasPython('cv2');
  console.log(`feature extraction, all seven features (default spec), one core, ${BATCH} real images (BreastMNIST + RetinaMNIST)`);
  console.log(python ? `peer: scikit-image${opencv ? ' and OpenCV' : ''} via ${PYTHON}` : `peer: none (${PYTHON} lacks scikit-image)`);
  console.log('size      batch 1    batch 64   skimage      vs skimage   HOG alone   OpenCV HOG   vs OpenCV');
  const tmp = mkdtempSync(join(tmpdir(), 'medclass-bench-'));
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
      const x = tensor3d(stacked, [BATCH, size, size]);
      const hogOnly = await perImage(BATCH, async () => {
        const t = hog(x, spec);
        await t.data();
        t.dispose();
      });
      x.dispose();
      let peer: { skimageMs?: number; opencvHogMs?: number } = {};
      if (python) {
        const file = join(tmp, `${size}.f32`);
        writeFileSync(file, stacked);
        peer = JSON.parse(execFileSync(PYTHON, [join(here, 'features_peer.py'), 'kernels', file, String(BATCH), String(size)], { encoding: 'utf8' }));
      }
      console.log(
        `${String(size).padEnd(5)} ${fmt(one)} ${fmt(many)} ${peer.skimageMs ? fmt(peer.skimageMs) : '        -'} ${ratio(peer.skimageMs, one)} (b1) ${ratio(peer.skimageMs, many)} (b64) ${fmt(hogOnly)} ${peer.opencvHogMs ? fmt(peer.opencvHogMs) : '       -'}   ${peer.opencvHogMs ? `${(hogOnly / peer.opencvHogMs).toFixed(2)}x its time` : '-'}`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function wholeCommand(): void {
  const COUNT = 3000;
  const dir = mkdtempSync(join(tmpdir(), 'medclass-bench-pngs-'));
  try {
    const pngs = join(dir, 'pngs');
    mkdirSync(pngs);
    realImageFiles(COUNT).forEach((f, i) => copyFileSync(f, join(pngs, `${String(i).padStart(5, '0')}.png`)));
    const time = (cmd: string, args: string[]) => {
      const start = performance.now();
      const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
      return (performance.now() - start) / 1000;
    };
    // The command users run is the compiled one: build it, so a stale build does not send it through tsx.
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.server.json')], { stdio: 'inherit' });
    console.log(`\nwhole command on ${COUNT} small PNGs (28x28, default spec: size 64), from start to exit, JSON written to a file`);
    const ours = time(process.execPath, [join(root, 'server', 'medclass.js'), 'features', pngs, '--out', join(dir, 'ours.json')]);
    console.log(`medclass features (both cores):        ${ours.toFixed(2)} s`);
    if (hasPython('skimage, PIL')) {
      const peer = time(PYTHON, [join(here, 'features_peer.py'), 'cli', pngs, join(dir, 'peer.json')]);
      console.log(`python3 PIL + scikit-image (one core): ${peer.toFixed(2)} s   medclass is ${(peer / ours).toFixed(1)}x faster`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await kernels();
wholeCommand();
