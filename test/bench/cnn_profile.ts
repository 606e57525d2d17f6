/**
 * Where a CNN training step's time goes on the wasm backend: a few batches of 64 at 28x28
 * under tf.profile, per kernel (count, total ms), and the whole step. `npx tsx test/bench/cnn_profile.ts [widths] [batches]`.
 */
import { profile } from '@tensorflow/tfjs-core';
import { useCnnBackend } from '../../server/features/backend.ts';
import { NO_AUGMENT, DEFAULT_AUGMENT } from '../../shared/classify/cnn/augment.ts';
import { defaultArchitecture } from '../../shared/classify/cnn/network.ts';
import { DEFAULT_CNN_SETTINGS, trainCnn } from '../../shared/classify/cnn/train_cnn.ts';
import { createRng } from '../../shared/classify/prng.ts';

const widths = (process.argv[2] ?? '16,32,64').split(',').map(Number);
const batches = Number(process.argv[3] ?? 4);
const prof = process.argv[4] !== 'noprof';
await useCnnBackend();
const a = defaultArchitecture(28, 1, 2, widths);
const n = 64 * batches;
const rng = createRng(3);
const x = Float32Array.from({ length: n * 784 }, () => rng.next());
const y = Int32Array.from({ length: n }, (_, i) => i % 2);
const val = { x: x.slice(0, 64 * 784), y: y.slice(0, 64) };
const settings = { ...DEFAULT_CNN_SETTINGS, epochs: 1, augment: DEFAULT_AUGMENT, classWeight: null, budgetMs: null };
// warm-up
await trainCnn(a, { x, y }, val, { ...settings, augment: NO_AUGMENT });
const c0 = process.cpuUsage();
const t0 = performance.now();
if (!prof) {
  const r = await trainCnn(a, { x, y }, val, settings);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  console.log(`widths ${widths}: ${batches} batches, ${(ms / batches).toFixed(0)} ms per batch wall, ${((cpu.user + cpu.system) / 1000 / batches).toFixed(0)} ms cpu; epoch ms ${r.history[0]!.ms}`);
} else {
  const info = await profile(async () => {
    await trainCnn(a, { x, y }, val, settings);
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const by = new Map<string, { n: number; ms: number }>();
  for (const k of info.kernels) {
    const size = k.outputShapes.reduce((s: number, sh: number[]) => s + sh.reduce((a, b) => a * b, 1), 0);
    const key = k.name.startsWith('Conv2D') ? `${k.name} ${JSON.stringify(k.inputShapes)}` : `${k.name}${size >= 20000 ? ' (big)' : ''}`;
    const e = by.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    by.set(key, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`widths ${widths}: ${batches} batches + val: ${ms.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms cpu, kernels ${total.toFixed(0)} ms, ${info.kernels.length} kernel calls`);
  for (const [name, e] of [...by].sort((p, q) => q[1].ms - p[1].ms).slice(0, 40)) console.log(`${name.padEnd(60)} ${String(e.n).padStart(6)} ${e.ms.toFixed(0).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`);
}
