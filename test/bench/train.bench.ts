/**
 * npx tsx test/bench/train.bench.ts: training and prediction against scikit-learn on the same
 * features, in one run. RetinaMNIST train (1,080 images) at size 64 gives 1,770 features per
 * image; an RBF SVM (C=1, gamma='scale') is fitted with and without Platt probabilities, by
 * this project and by scikit-learn's SVC, standardisation included on both sides; then KNN
 * (k=5) predicts the 400 test images. The feature matrix goes to Python as raw float64.
 * Times are the best of a few runs; the ratio is scikit-learn's time over ours (> 1: faster).
 * scikit-learn runs twice: with its default threads, and single-threaded as ours is.
 *
 * Then --auto's search on the same features (RBF grid, 5-fold cross-validation of train) on
 * one worker thread and on one per core: the speed-up of tuning on every core, and the same
 * choice either way. BENCH_AUTO=0 leaves it out, BENCH_AUTO=only runs it alone.
 * BENCH_SVM=0 leaves the SVM rows out (KNN alone, both sides, in about a minute).
 */
import { spawnSync } from 'node:child_process';
import { chooseModel } from '../../server/training/auto_model.ts';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateKnn } from '../../shared/classify/knn.ts';
import { evaluateKnnThreads } from '../../server/classify/knn_threads.ts';
import { gramMatrix } from '../../shared/classify/linalg.ts';
import { computeMetrics } from '../../shared/classify/metrics.ts';
import { predict } from '../../shared/classify/classifier.ts';
import { DEFAULT_SETTINGS, fitFinal, type TrainSettings } from '../../shared/classify/train.ts';
import { fitScaler, transform } from '../../shared/classify/scaler.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { loadSplits } from '../classify_data.ts';
import { dataset } from '../golden.ts';
import { cnnTrainBench } from './cnn_train.bench.ts';

const PYTHON = '/usr/bin/python3';
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 5);
/** KNN predicts in tens of milliseconds: more tries, so that a best-of survives a loaded machine's bursts. */
const KNN_REPEATS = Number(process.env['BENCH_KNN_REPEATS'] ?? 25);
const SVM = process.env['BENCH_SVM'] !== '0';

async function bestAsync<T>(fn: () => Promise<T>, repeats = REPEATS): Promise<{ ms: number; value: T }> {
  let ms = Infinity;
  let value!: T;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    value = await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value };
}

function best<T>(fn: () => T, repeats = REPEATS): { ms: number; value: T } {
  let ms = Infinity;
  let value!: T;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value };
}

const PY = String.raw`
import json, sys, time, numpy as np
from sklearn.svm import SVC
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import accuracy_score
d, n, m, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
f, knn_reps, svm = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] == '1'
Xtr = np.fromfile(d + '/train.f64', dtype='<f8').reshape(n, f)
ytr = np.fromfile(d + '/train.i32', dtype='<i4')
Xte = np.fromfile(d + '/test.f64', dtype='<f8').reshape(m, f)
yte = np.fromfile(d + '/test.i32', dtype='<i4')
def best(fn, reps=reps):
    t = float('inf')
    for _ in range(reps):
        s = time.perf_counter(); v = fn(); t = min(t, time.perf_counter() - s)
    return t * 1000, v
out = {}
for prob in ((False, True) if svm else ()):
    def fit():
        sc = StandardScaler().fit(Xtr)
        return sc, SVC(C=1, gamma='scale', probability=prob, random_state=0).fit(sc.transform(Xtr), ytr)
    ms, (sc, model) = best(fit)
    out['svm_prob' if prob else 'svm'] = {'ms': ms, 'acc': accuracy_score(yte, model.predict(sc.transform(Xte))), 'nSV': model.n_support_.tolist()}
sc = StandardScaler().fit(Xtr)
knn = KNeighborsClassifier(5).fit(sc.transform(Xtr), ytr)
ms, p = best(lambda: knn.predict(sc.transform(Xte)), knn_reps)
cpu = float('inf')
for _ in range(knn_reps):
    s = time.process_time(); knn.predict(sc.transform(Xte)); cpu = min(cpu, time.process_time() - s)
out['knn_predict'] = {'ms': ms, 'acc': accuracy_score(yte, p), 'cpuMs': cpu * 1000}
ms, _ = best(lambda: knn.predict_proba(sc.transform(Xte)), knn_reps)
out['knn_proba'] = {'ms': ms}
print(json.dumps(out))
`;

async function main() {
  const spec = parseFeatureSpec({ size: 64 });
  console.log('extracting RetinaMNIST train and test at size 64 ...');
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  const data = await loadSplits(dataset('retinamnist'), spec);
  const train = data.train;
  const test = data.test!;
  const k = data.labels.length;
  console.log(`train ${train.X.rows} x ${train.X.cols} features, test ${test.X.rows}\n`);

  const settings = (probability: boolean): TrainSettings => ({ ...DEFAULT_SETTINGS, probability, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
  const ours: Record<string, { ms: number; acc: number; nSV?: number[] }> = {};
  for (const probability of SVM ? [false, true] : []) {
    const { ms, value } = best(() => fitFinal(train, k, settings(probability).params, settings(probability)));
    const c = value.predictor.classifier;
    ours[probability ? 'svm_prob' : 'svm'] = {
      ms,
      acc: computeMetrics(test.y, predict(value.predictor, test.X), data.labels).accuracy,
      nSV: c.type === 'svm' ? Array.from(c.model.nSupport) : [],
    };
  }
  const Xs = transform(fitScaler(train.X), train.X);
  const gram = SVM ? best(() => gramMatrix(Xs)) : null;
  const knnParams = { type: 'knn', k: 5, metric: 'euclidean', weights: 'uniform' } as const;
  const knnFit = fitFinal(train, k, knnParams, { ...DEFAULT_SETTINGS, params: knnParams });
  const knn = best(() => predict(knnFit.predictor, test.X), KNN_REPEATS);
  ours['knn_predict'] = { ms: knn.ms, acc: computeMetrics(test.y, knn.value, data.labels).accuracy };
  if (knnFit.predictor.classifier.type === 'knn') {
    // The same votes from exact float64 distances throughout (no int16 screen).
    const model = knnFit.predictor.classifier.model;
    const Xt = transform(knnFit.predictor.scaler, test.X);
    ours['knn_plain'] = { ms: best(() => evaluateKnn(model, Xt, false), KNN_REPEATS).ms, acc: NaN };
    // CPU time of the one-thread predict (this process's), steadier than wall time on a shared machine
    let cpuMs = Infinity;
    for (let i = 0; i < KNN_REPEATS; i++) {
      const c = process.cpuUsage();
      predict(knnFit.predictor, test.X);
      const u = process.cpuUsage(c);
      cpuMs = Math.min(cpuMs, (u.user + u.system) / 1000);
    }
    ours['knn_cpu'] = { ms: cpuMs, acc: NaN };
    // Two threads: this one and a helper (started, and given the training set, by the first call).
    await evaluateKnnThreads(model, Xt, 2);
    let cpu2 = Infinity;
    const two = await bestAsync(async () => {
      const c = process.cpuUsage();
      const Xn = transform(knnFit.predictor.scaler, test.X);
      const e = await evaluateKnnThreads(model, Xn, 2);
      const u = process.cpuUsage(c);
      cpu2 = Math.min(cpu2, (u.user + u.system) / 1000);
      return e;
    }, KNN_REPEATS);
    if (Array.from(two.value.scores).some((p, i) => p !== knn.value.scores[i])) throw new Error('KNN on two threads voted otherwise than on one');
    ours['knn_predict_2t'] = { ms: two.ms, acc: computeMetrics(test.y, two.value, data.labels).accuracy };
    ours['knn_cpu_2t'] = { ms: cpu2, acc: NaN };
  }

  type Peer = Record<string, { ms: number; acc?: number; nSV?: number[]; cpuMs?: number }>;
  let peer: Peer | null = null;
  let single: Peer | null = null;
  if (existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import sklearn']).status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'medclass-bench-'));
    try {
      const i32 = (y: Int32Array) => new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
      writeFileSync(join(dir, 'train.f64'), new Uint8Array(train.X.data.buffer));
      writeFileSync(join(dir, 'train.i32'), i32(train.y));
      writeFileSync(join(dir, 'test.f64'), new Uint8Array(test.X.data.buffer));
      writeFileSync(join(dir, 'test.i32'), i32(test.y));
      const args = ['-c', PY, dir, String(train.X.rows), String(test.X.rows), String(REPEATS), String(train.X.cols), String(KNN_REPEATS), SVM ? '1' : '0'];
      const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
      if (r.status !== 0) console.log(`scikit-learn run failed: ${r.stderr}`);
      else peer = JSON.parse(r.stdout);
      // OpenBLAS and OpenMP threads can oversubscribe a small machine: the single-threaded run too.
      const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
      const r1 = spawnSync(PYTHON, args, { encoding: 'utf8', env });
      if (r1.status === 0) single = JSON.parse(r1.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else console.log(`(${PYTHON} with scikit-learn not found: our figures only)`);

  const rows: [string, string][] = [
    ...(SVM
      ? ([
          ['RBF SVM fit, no probabilities (scale + fit)', 'svm'],
          ['RBF SVM fit, Platt probabilities (5-fold CV)', 'svm_prob'],
        ] as [string, string][])
      : []),
    ['KNN k=5 predict 400 test images', 'knn_predict'],
    ['KNN k=5 predict 400 test images, two threads', 'knn_predict_2t'],
  ];
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(0)} ms`);
  const ratio = (p: number | undefined, o: number) => (p === undefined ? '-' : `${(p / o).toFixed(2)}x`);
  console.log(`(medclass: one thread unless the row says two; sklearn: its default threads, then OPENBLAS/OMP_NUM_THREADS=1; ratio = sklearn / medclass; best of ${REPEATS} fits and ${KNN_REPEATS} predicts; load ${loadAtStart} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} now, on ${availableParallelism()} cores)`);
  console.log('task'.padEnd(48), 'medclass'.padStart(9), 'sklearn'.padStart(9), 'ratio'.padStart(7), 'sklearn-1t'.padStart(11), 'ratio'.padStart(7), '  test accuracy (ours / sklearn)');
  for (const [label, key] of rows) {
    const o = ours[key]!;
    // our two threads against scikit-learn's own (OpenBLAS uses both cores) and its single thread
    const peerKey = key === 'knn_predict_2t' ? 'knn_predict' : key;
    const p = peer?.[peerKey];
    const p1 = single?.[peerKey];
    console.log(
      label.padEnd(48),
      ms(o.ms).padStart(9),
      ms(p?.ms).padStart(9),
      ratio(p?.ms, o.ms).padStart(7),
      ms(p1?.ms).padStart(11),
      ratio(p1?.ms, o.ms).padStart(7),
      `  ${o.acc.toFixed(3)} / ${p?.acc !== undefined ? p.acc.toFixed(3) : '-'}`,
    );
  }
  const knnOne = ours['knn_predict']!.ms;
  const knnTwo = ours['knn_predict_2t']!.ms;
  console.log(`KNN one thread vs scikit-learn n_jobs=1, single-threaded BLAS: ${ms(knnOne)} vs ${ms(single?.['knn_predict']?.ms)}: ${ratio(single?.['knn_predict']?.ms, knnOne)} (CPU ${ms(ours['knn_cpu']!.ms)} vs ${ms(single?.['knn_predict']?.cpuMs)}: ${ratio(single?.['knn_predict']?.cpuMs, ours['knn_cpu']!.ms)})`);
  console.log(`KNN two threads vs scikit-learn with its default threads: ${ms(knnTwo)} vs ${ms(peer?.['knn_predict']?.ms)}: ${ratio(peer?.['knn_predict']?.ms, knnTwo)} (CPU ${ms(ours['knn_cpu_2t']!.ms)} vs ${ms(peer?.['knn_predict']?.cpuMs)}); two threads over one: ${(knnOne / knnTwo).toFixed(2)}x`);
  console.log(`(ours without the int16 screen, exact float64 distances throughout: ${ms(ours['knn_plain']!.ms)}, the same votes)`);
  if (peer?.['knn_proba']) console.log(`(scikit-learn KNN predict_proba: ${ms(peer['knn_proba'].ms)}, single-threaded ${ms(single?.['knn_proba']?.ms)}; ours gives labels and vote fractions in one pass)`);
  if (gram) console.log(`(ours: Gram matrix 1080 x 1080 over 1770 features ${gram.ms.toFixed(0)} ms of the fit; support vectors ${ours['svm']!.nSV!.join('/')}` + (peer ? `, scikit-learn ${peer['svm']!.nSV!.join('/')})` : ')'));
}

/** The search on `threads` workers: wall time, and what it chose. */
async function autoSearch(train: { X: import('../../shared/classify/linalg.ts').Matrix; y: Int32Array }, labels: string[], threads: number) {
  const spec = parseFeatureSpec({ size: 64 });
  const t = performance.now();
  const choice = await chooseModel({
    labels,
    plan: { sizes: [64], sets: [{ name: 'seven', families: ['hog', 'hogStats', 'glcm'] }], specs: [spec], inapplicable: () => null, cnn: { skipped: 'not tried in this bench' } },
    dims: [{ width: 64, height: 64 }],
    X: [train.X],
    y: train.y,
    nTrain: train.y.length,
    nVal: 0,
    settings: { ...DEFAULT_SETTINGS, auto: true, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } },
    budgetMs: Infinity,
    options: { budgetMs: Infinity, threads, classifiers: ['SVM (rbf)'] },
  });
  const w = choice.search.candidates[choice.search.best]!;
  return { ms: performance.now() - t, scored: choice.search.candidates.filter((c) => c.status === 'scored').length, chosen: `${w.label} (CV balanced accuracy ${w.balancedAccuracy!.toFixed(4)})` };
}

async function autoBench() {
  const spec = parseFeatureSpec({ size: 64 });
  const data = await loadSplits(dataset('retinamnist'), spec);
  const cores = availableParallelism();
  console.log(`\n--auto search, RBF grid (7 C x 5 gamma after a 2-candidate screen), 5-fold CV of RetinaMNIST train (${data.train.X.rows} x ${data.train.X.cols}); load average ${loadavg()[0]!.toFixed(1)} on ${cores} cores`);
  const one = await autoSearch(data.train, data.labels, 1);
  const all = await autoSearch(data.train, data.labels, cores);
  console.log(`  1 worker thread:   ${(one.ms / 1000).toFixed(1)} s, ${one.scored} candidates, chose ${one.chosen}`);
  console.log(`  ${cores} worker threads: ${(all.ms / 1000).toFixed(1)} s, ${all.scored} candidates, chose ${all.chosen}`);
  console.log(`  speed-up ${(one.ms / all.ms).toFixed(2)}x${one.chosen === all.chosen ? '; the same choice' : '; A DIFFERENT CHOICE'}`);
}

if (process.env['BENCH_AUTO'] !== 'only') await main();
if (process.env['BENCH_AUTO'] !== '0') await autoBench();
// BENCH_CNN=0 leaves the CNN part out.
if (process.env['BENCH_AUTO'] !== 'only' && process.env['BENCH_CNN'] !== '0') await cnnTrainBench();
