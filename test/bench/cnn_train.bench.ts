/**
 * CNN training time on 5,000 28x28 grey images (issue 14's speed goal: within 5 minutes on
 * the project's 2-core machine): BreastMNIST and RetinaMNIST (every split, as grey) cycled to
 * 5,000 with their labels folded to two classes, on the wasm backend, one thread. It trains
 * CNN_BENCH_EPOCHS epochs (1 by default) of the default network and of a narrower one and
 * prints seconds per epoch; `npm run bench:train` runs it after the SVM and KNN figures, and
 * `npx tsx test/bench/cnn_train.bench.ts` alone.
 */
import { useCnnBackend } from '../../server/features/backend.ts';
import { DEFAULT_CNN_PARAMS, trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import { matrix, type Matrix } from '../../shared/classify/linalg.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { loadSplits } from '../classify_data.ts';
import { dataset } from '../golden.ts';

const N = 5000;

export async function cnnTrainBench(): Promise<void> {
  const epochs = Number(process.env['CNN_BENCH_EPOCHS'] ?? 1);
  const spec = parseFeatureSpec({ features: ['pixels'], size: 28 });
  const rows: { x: Float64Array; y: number }[] = [];
  for (const name of ['breastmnist', 'retinamnist'] as const) {
    const d = await loadSplits(dataset(name), spec);
    for (const s of [d.train, d.val, d.test]) if (s) for (let i = 0; i < s.y.length; i++) rows.push({ x: s.X.data.subarray(i * 784, (i + 1) * 784), y: s.y[i]! % 2 });
  }
  const X: Matrix = matrix(N, 784);
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const r = rows[i % rows.length]!;
    X.data.set(r.x, i * 784);
    y[i] = r.y;
  }
  const val = { X: matrix(200, 784, X.data.slice(0, 200 * 784)), y: y.slice(0, 200) };
  await useCnnBackend();
  console.log(`\nCNN training on ${N} 28x28 grey images (${rows.length} distinct), wasm backend, one thread, batch 64, augmentation on:`);
  for (const widths of [DEFAULT_CNN_PARAMS.widths, [8, 16, 32]]) {
    const t = performance.now();
    const outcome = await trainCnnModel({ labels: ['0', '1'], train: { X, y }, val }, { ...DEFAULT_CNN_PARAMS, widths: [...widths], epochs }, { inputSize: 28, channels: 1, seed: 1, classWeight: null });
    const s = (performance.now() - t) / 1000;
    const net = outcome.predictor.classifier;
    const perEpoch = net.type === 'cnn' ? net.model.history.reduce((a, h) => a + h.ms, 0) / 1000 / net.model.history.length : s / epochs;
    console.log(`  widths ${widths.join('-')}: ${s.toFixed(1)} s for ${epochs} epoch(s), ${perEpoch.toFixed(1)} s per epoch; ${Math.floor(300 / perEpoch)} epoch(s) fit in 5 minutes`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await cnnTrainBench();
