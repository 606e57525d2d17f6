/**
 * Experiment: CNN members trained as --auto trains its CNN (four fifths of train/, the lowest
 * loss on the other fifth kept), one member per fold; writes each member's val/ and test/
 * probabilities (plain and left-right flipped) as JSON for offline analysis.
 * npx tsx test/bench/cnn_ensemble_probe.ts OUT.json folds(0,1,..) [widths] [seed]
 */
import { writeFileSync } from 'node:fs';
import { useCnnBackend } from '../../server/features/backend.ts';
import { DEFAULT_CNN_PARAMS, trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import { evaluateCnn } from '../../shared/classify/cnn/cnn_model.ts';
import { stratifiedFolds } from '../../shared/classify/cv.ts';
import { matrix, takeRows, type Matrix } from '../../shared/classify/linalg.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { loadSplits } from '../classify_data.ts';
import { dataset } from '../golden.ts';

const [out, foldsArg, widthsArg, seedArg] = process.argv.slice(2);
const folds = foldsArg!.split(',').map(Number);
const widths = (widthsArg ?? '16,32,64').split(',').map(Number);
const seed = Number(seedArg ?? 1);
await useCnnBackend();
const spec = parseFeatureSpec({ features: ['pixels'], size: 28 });
const data = await loadSplits(dataset('breastmnist'), spec, 1);
const flip = (X: Matrix): Matrix => {
  const d = new Float64Array(X.data.length);
  for (let r = 0; r < X.rows; r++) for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) d[r * 784 + y * 28 + x] = X.data[r * 784 + y * 28 + 27 - x]!;
  return matrix(X.rows, X.cols, d);
};
const split = stratifiedFolds(data.train.y, 2, 5, 1);
const results = [];
for (const f of folds) {
  const s = split[f]!;
  const part = (rows: Int32Array) => ({ X: takeRows(data.train.X, rows), y: Int32Array.from(rows, (i) => data.train.y[i]!) });
  const t0 = performance.now();
  const o = await trainCnnModel({ labels: data.labels, train: part(s.train), val: part(s.test) }, { ...DEFAULT_CNN_PARAMS, widths }, { inputSize: 28, channels: 1, seed: seed + f, classWeight: null, training: { patience: 30 } });
  const net = o.predictor.classifier;
  if (net.type !== 'cnn') throw new Error('not a cnn');
  const p = (X: Matrix) => Array.from(evaluateCnn(net.model, X).scores.filter((_, i) => i % 2 === 1));
  results.push({ fold: f, widths, seed: seed + f, bestEpoch: net.model.bestEpoch, ms: performance.now() - t0, holdRows: Array.from(s.test), hold: p(part(s.test).X), val: p(data.val!.X), valFlip: p(flip(data.val!.X)), test: p(data.test!.X), testFlip: p(flip(data.test!.X)) });
  console.log(`fold ${f} done in ${((performance.now() - t0) / 1000).toFixed(0)} s, best epoch ${net.model.bestEpoch}`);
  writeFileSync(out!, JSON.stringify({ valY: Array.from(data.val!.y), testY: Array.from(data.test!.y), trainY: Array.from(data.train.y), results }));
}
