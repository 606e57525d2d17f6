/**
 * Experiment: a CNN variant's five fold members trained as --auto trains them on BreastMNIST
 * (member i on four fifths of train/, every epoch run, the lowest loss on fold i kept, seed
 * 1 + i, 28 px), each member's probabilities on its held-out fold written as JSON; and, with
 * `features`, the fixed feature member on the same folds (the texture set at the kept size,
 * RBF C=3 gamma=scale*3 with Platt, the default command's ensemble member). Only train/ is
 * read: what is chosen from these figures never saw val/ or test/.
 *   npx tsx test/bench/cnn_variant_probe.ts OUT.json '{"widths":[16,32,64],"epochs":30}' [folds]
 *   npx tsx test/bench/cnn_variant_probe.ts OUT.json features
 *   npx tsx test/bench/cnn_variant_probe.ts report FEATURES.json VARIANT.json...
 * Variant fields: widths, epochs, blocks (CnnParams); labelSmoothing, mixup, learningRate,
 * weightDecay, keep ('last': the last epoch's averaged weights, not the lowest loss's) (training settings).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { useCnnBackend } from '../../server/features/backend.ts';
import { autoBaseSpec } from '../../server/training/auto_model.ts';
import { predict, weightedMeanProbabilities } from '../../shared/classify/classifier.ts';
import { evaluateCnnAsync } from '../../shared/classify/cnn/cnn_model.ts';
import { DEFAULT_CNN_PARAMS, trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import { stratifiedFolds } from '../../shared/classify/cv.ts';
import { takeRows } from '../../shared/classify/linalg.ts';
import { accuracy, balancedAccuracy, classAucs } from '../../shared/classify/metrics.ts';
import { DEFAULT_SETTINGS, fitFinal } from '../../shared/classify/train.ts';
import type { CnnParams, SvmParams } from '../../shared/classify/params.ts';
import { createRng } from '../../shared/classify/prng.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { loadSplits } from '../classify_data.ts';
import { dataset } from '../golden.ts';

interface FoldOut {
  fold: number;
  rows: number[];
  /** Class 1's probability per held-out row. */
  p1: number[];
  ms: number;
  epochs?: number;
  bestEpoch?: number;
}

const [first, ...rest] = process.argv.slice(2);

if (first === 'report') report(rest[0]!, rest.slice(1));
else await probe(first!, rest[0]!, rest[1]);

async function probe(out: string, what: string, foldsArg: string | undefined) {
  const folds = (foldsArg ?? '0,1,2,3,4').split(',').map(Number);
  const features = what === 'features';
  const spec = features ? autoBaseSpec(parseFeatureSpec({ features: ['lbp', 'glcmAngles', 'intensityHistogram', 'intensityMoments'], size: 0 })) : parseFeatureSpec({ features: ['pixels'], size: 28 });
  const data = await loadSplits(dataset('breastmnist'), spec, 1);
  const y = data.train.y;
  const split = stratifiedFolds(y, 2, 5, 1);
  const part = (rows: Int32Array) => ({ X: takeRows(data.train.X, rows), y: Int32Array.from(rows, (i) => y[i]!) });
  const variant = features ? null : (JSON.parse(what) as Record<string, unknown>);
  if (!features) await useCnnBackend();
  const results: FoldOut[] = [];
  for (const f of folds) {
    const s = split[f]!;
    const t0 = performance.now();
    if (features) {
      const params: SvmParams = { type: 'svm', kernel: 'rbf', C: 3, gamma: { scale: 3 } };
      const fit = fitFinal(part(s.train), 2, params, { ...DEFAULT_SETTINGS, params, probability: true });
      const e = predict(fit.predictor, part(s.test).X);
      results.push({ fold: f, rows: Array.from(s.test), p1: Array.from(e.probabilities!.filter((_, i) => i % 2 === 1)), ms: performance.now() - t0 });
    } else {
      const v = variant!;
      const params: CnnParams = {
        ...DEFAULT_CNN_PARAMS,
        ...(v['widths'] ? { widths: v['widths'] as number[] } : {}),
        ...(v['epochs'] ? { epochs: v['epochs'] as number } : {}),
        ...(v['blocks'] ? { blocks: v['blocks'] as number } : {}),
        ...(v['labelSmoothing'] ? { labelSmoothing: v['labelSmoothing'] as number } : {}),
        ...(v['mixup'] ? { mixup: v['mixup'] as number } : {}),
      };
      const training = Object.fromEntries(['learningRate', 'weightDecay', 'keep'].filter((key) => v[key] !== undefined).map((key) => [key, v[key] as number | string]));
      const o = await trainCnnModel({ labels: data.labels, train: part(s.train), val: part(s.test) }, params, { inputSize: 28, channels: 1, seed: 1 + f, classWeight: null, training: { ...training, patience: params.epochs } });
      const net = o.predictor.classifier;
      if (net.type !== 'cnn') throw new Error('not a cnn');
      const e = await evaluateCnnAsync(net.model, part(s.test).X);
      results.push({ fold: f, rows: Array.from(s.test), p1: Array.from(e.scores.filter((_, i) => i % 2 === 1)), ms: performance.now() - t0, epochs: net.model.history.length, bestEpoch: net.model.bestEpoch });
    }
    const r = results.at(-1)!;
    console.log(`fold ${f} done in ${(r.ms / 1000).toFixed(0)} s${r.bestEpoch ? `, best epoch ${r.bestEpoch} of ${r.epochs}` : ''}`);
    writeFileSync(out, JSON.stringify({ variant: what, y: Array.from(y), results }));
  }
}

/** Pooled out-of-fold figures of each variant's CNNs and of their mix with the feature member (weight 0.5, and the best of 0.1-0.9). */
function report(featuresFile: string, files: string[]) {
  const feat = JSON.parse(readFileSync(featuresFile, 'utf8')) as { y: number[]; results: FoldOut[] };
  const y = Int32Array.from(feat.y);
  const pi = y.reduce((a, c) => a + c, 0) / y.length;
  // each file's class-1 probabilities by train/ row: the feature member's, and each variant's for paired comparisons with the first file
  const byRow = (d: { results: FoldOut[] }) => {
    const m = new Map<number, number>();
    for (const r of d.results) r.rows.forEach((row, i) => m.set(row, r.p1[i]!));
    return m;
  };
  const featP = byRow(feat);
  const figures = (rows: number[], p1: number[]) => {
    const truth = Int32Array.from(rows, (r) => y[r]!);
    const scores = Float64Array.from(p1.flatMap((p) => [1 - p, p]));
    const predicted = Int32Array.from(p1, (p) => (p > pi ? 1 : 0));
    return { auc: classAucs(truth, scores, 2).auc!, bal: balancedAccuracy(truth, predicted, 2), acc: accuracy(truth, predicted) };
  };
  const mix = (p: number, q: number, w: number) => weightedMeanProbabilities([{ probabilities: Float64Array.of(1 - q, q), weight: w }, { probabilities: Float64Array.of(1 - p, p), weight: 1 - w }], 2).probabilities![1]!;
  const f3 = (v: number) => v.toFixed(3);
  console.log(`threshold: Bayes, pi = ${f3(pi)}`);
  console.log('| variant | folds | s per member | epochs kept | CNN AUC / bal. acc. / acc. | ensemble w 0.5 AUC / bal. acc. / acc. | best w: AUC / bal. acc. / acc. | AUC - first row\'s, CNN / ensemble (paired bootstrap SE) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const firstFile = JSON.parse(readFileSync(files[0]!, 'utf8')) as { results: FoldOut[] };
  const firstRows = firstFile.results.flatMap((r) => r.rows);
  const firstP = byRow(firstFile);
  const aucOf = (rows: number[], p: (row: number) => number) => classAucs(Int32Array.from(rows, (r) => y[r]!), Float64Array.from(rows.flatMap((r) => [1 - p(r), p(r)])), 2).auc!;
  const paired = (p: Map<number, number>, ensemble: boolean) => {
    const rows = firstRows.filter((r) => p.has(r));
    const f = (q: Map<number, number>) => (r: number) => (ensemble ? mix(q.get(r)!, featP.get(r)!, 0.5) : q.get(r)!);
    const diff = (sample: number[]) => aucOf(sample, f(p)) - aucOf(sample, f(firstP));
    const rng = createRng(11);
    const boots = Array.from({ length: 400 }, () => diff(rows.map(() => rows[Math.floor(rng.next() * rows.length)]!)));
    const mean = boots.reduce((a, b) => a + b, 0) / boots.length;
    const se = Math.sqrt(boots.reduce((a, b) => a + (b - mean) ** 2, 0) / (boots.length - 1));
    return `${diff(rows) >= 0 ? '+' : ''}${f3(diff(rows))} (${f3(se)})`;
  };
  for (const file of files) {
    const d = JSON.parse(readFileSync(file, 'utf8')) as { variant: string; results: FoldOut[] };
    const rows = d.results.flatMap((r) => r.rows);
    const p1 = d.results.flatMap((r) => r.p1);
    const cnn = figures(rows, p1);
    const ens = (w: number) => figures(rows, p1.map((p, i) => mix(p, featP.get(rows[i]!)!, w)));
    const e5 = ens(0.5);
    let best = { w: 0.5, f: e5 };
    for (const w of [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]) {
      const f = ens(w);
      if (f.auc > best.f.auc + 1e-12) best = { w, f };
    }
    const s = d.results.reduce((a, r) => a + r.ms, 0) / d.results.length / 1000;
    const kept = d.results.map((r) => `${r.bestEpoch}/${r.epochs}`).join(' ');
    const t = (f: { auc: number; bal: number; acc: number }) => `${f3(f.auc)} / ${f3(f.bal)} / ${f3(f.acc)}`;
    const p = byRow(d);
    console.log(`| ${d.variant} | ${d.results.length} | ${s.toFixed(0)} | ${kept} | ${t(cnn)} | ${t(e5)} | w ${best.w}: ${t(best.f)} | ${paired(p, false)} / ${paired(p, true)} |`);
  }
  const all = feat.results.flatMap((r) => r.rows);
  console.log(`feature member alone: ${JSON.stringify(figures(all, feat.results.flatMap((r) => r.p1)))}`);
}
