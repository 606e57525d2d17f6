/**
 * CNN training time on 5,000 28x28 grey images (issue 14's speed goal: a whole training within
 * 5 minutes on the project's 2-core machine): BreastMNIST and RetinaMNIST (every split, as
 * grey) cycled to 5,000 with their labels folded to two classes, trained with the defaults of
 * `--classifier cnn` (widths 16-32-64, at most 30 epochs and 600 steps, augmentation) on the
 * wasm backend, as the server trains: each batch's second group on a worker thread
 * (CNN_BENCH_THREADS=1: both on this one). Prints wall and CPU seconds (of every thread), the load average around it, and a peer
 * from the same run where one is installed: no CNN library is (PyTorch, TensorFlow), so
 * scikit-learn's MLPClassifier on the same pixels stands in, for scale only.
 * `npm run bench:train` runs it after the SVM and KNN figures, `npx tsx test/bench/cnn_train.bench.ts`
 * alone; CNN_BENCH_WIDTHS=8,16,32 and CNN_BENCH_EPOCHS=N change the network and the epochs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { useCnnBackend } from '../../server/features/backend.ts';
import { cnnGroupThreads } from '../../server/features/cnn_groups.ts';
import { DEFAULT_CNN_PARAMS, trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import { DEFAULT_CNN_SETTINGS, epochsFor } from '../../shared/classify/cnn/train_cnn.ts';
import { matrix, type Matrix } from '../../shared/classify/linalg.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { loadSplits } from '../classify_data.ts';
import { dataset } from '../golden.ts';

const N = 5000;
const VAL = 200;
const PYTHON = '/usr/bin/python3';

const PEER = String.raw`
import sys, time, numpy as np
from sklearn.neural_network import MLPClassifier
d, n, f, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X = np.fromfile(d + '/x.f64', dtype='<f8').reshape(n, f)
y = np.fromfile(d + '/y.i32', dtype='<i4')
t, c = time.perf_counter(), time.process_time()
import warnings; warnings.filterwarnings('ignore')
MLPClassifier((256,), batch_size=64, max_iter=epochs, random_state=0).fit(X, y)
print(time.perf_counter() - t, time.process_time() - c)
`;

/** scikit-learn's MLP on the same images: [wall s, CPU s], or why there is none. */
function peer(X: Matrix, y: Int32Array, epochs: number): [number, number] | string {
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import sklearn']).status !== 0) return 'scikit-learn not installed';
  const dir = mkdtempSync(join(tmpdir(), 'medclass-cnn-bench-'));
  try {
    writeFileSync(join(dir, 'x.f64'), new Uint8Array(X.data.buffer, X.data.byteOffset, X.data.byteLength));
    writeFileSync(join(dir, 'y.i32'), new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
    const r = spawnSync(PYTHON, ['-c', PEER, dir, String(X.rows), String(X.cols), String(epochs)], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' } });
    if (r.status !== 0) return `scikit-learn failed: ${r.stderr.trim().split('\n').at(-1)}`;
    const [wall, cpu] = r.stdout.trim().split(' ').map(Number);
    return [wall!, cpu!];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

export async function cnnTrainBench(): Promise<void> {
  const widths = (process.env['CNN_BENCH_WIDTHS'] ?? DEFAULT_CNN_PARAMS.widths.join(',')).split(',').map(Number);
  const epochs = Number(process.env['CNN_BENCH_EPOCHS'] ?? DEFAULT_CNN_PARAMS.epochs);
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
  const val = { X: matrix(VAL, 784, X.data.slice(0, VAL * 784)), y: y.slice(0, VAL) };
  await useCnnBackend();
  const groups = process.env['CNN_BENCH_THREADS'] === '1' ? null : await cnnGroupThreads();
  const steps = Math.ceil(N / DEFAULT_CNN_SETTINGS.batchSize);
  const planned = epochsFor({ epochs, maxSteps: DEFAULT_CNN_SETTINGS.maxSteps }, steps);
  console.log(
    `\nCNN training on ${N} 28x28 grey images (${rows.length} distinct), widths ${widths.join('-')}, batch ${DEFAULT_CNN_SETTINGS.batchSize}, ` +
      `augmentation on, ${planned} epochs of ${steps} steps (at most ${epochs} epochs and ${DEFAULT_CNN_SETTINGS.maxSteps} steps), validation on ${VAL}; wasm backend, ${groups ? 'two threads (the second group of each batch on a worker)' : 'one thread'}`,
  );
  const loadBefore = load();
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const outcome = await trainCnnModel({ labels: ['0', '1'], train: { X, y }, val }, { ...DEFAULT_CNN_PARAMS, widths, epochs }, { inputSize: 28, channels: 1, seed: 1, classWeight: null }, {
    onEpoch: (r) => console.log(`  epoch ${r.epoch}/${r.epochs}: ${(r.ms / 1000).toFixed(1)} s, loss ${r.loss.toFixed(3)}, val accuracy ${r.valAccuracy.toFixed(3)}`),
    ...(groups ? { groupRunner: groups } : {}),
  }).finally(() => groups?.close());
  const wall = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / 1e6;
  const net = outcome.predictor.classifier;
  const ran = net.type === 'cnn' ? net.model.history.length : planned;
  console.log(
    `  whole training: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU (${ran} epochs, ${(wall / ran).toFixed(1)} s per epoch); ` +
      `goal within 300 s: ${wall <= 300 ? 'met' : 'NOT met'}; load average ${loadBefore} before, ${load()} after, on ${availableParallelism()} cores`,
  );
  // process.cpuUsage counts every thread of the process, the worker's too
  const p = peer(X, y, ran);
  console.log(
    typeof p === 'string'
      ? `  peer: no CNN library installed (PyTorch, TensorFlow) and ${p}`
      : `  peer: no CNN library installed (PyTorch, TensorFlow); scikit-learn MLPClassifier (one hidden layer of 256, not a CNN, ${ran} epochs, one thread) on the same pixels: ${p[0].toFixed(1)} s wall, ${p[1].toFixed(1)} s CPU`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await cnnTrainBench();
