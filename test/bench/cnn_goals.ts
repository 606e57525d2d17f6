/**
 * npm run goals:cnn: the CNN (`--classifier cnn` defaults: 16-32-64 channels, at most 30
 * epochs, augmentation, early stopping on val/) trained on BreastMNIST and RetinaMNIST
 * train/, scored once on test/, against issue 14's goals. Training is seeded and runs on the
 * wasm backend, so the figures repeat on any machine; the times are this machine's.
 * `--json FILE` also writes the figures as JSON; `--sets breastmnist` picks sets; `--epochs N` and
 * `--patience N` change those settings.
 */
import { writeFileSync } from 'node:fs';
import { useCnnBackend } from '../../server/features/backend.ts';
import { cnnGroupThreads } from '../../server/features/cnn_groups.ts';
import { DEFAULT_CNN_PARAMS, trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import { groupsFor } from '../../shared/classify/cnn/train_cnn.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { loadSplits } from '../classify_data.ts';
import { dataset } from '../golden.ts';

const GOALS = [
  { name: 'breastmnist', feature: 'pixels', channels: 1, auc: 0.9, acc: 0.87, resnet18: [0.901, 0.863], automl: [0.919, 0.861] },
  { name: 'retinamnist', feature: 'colourPixels', channels: 3, auc: 0.73, acc: 0.53, resnet18: [0.717, 0.524], automl: [0.75, 0.531] },
] as const;

const arg = (flag: string) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const sets = (arg('--sets') ?? GOALS.map((g) => g.name).join(',')).split(',');
const epochs = Number(arg('--epochs') ?? DEFAULT_CNN_PARAMS.epochs);

await useCnnBackend();
const results = [];
for (const g of GOALS.filter((g) => sets.includes(g.name))) {
  const spec = parseFeatureSpec({ features: [g.feature], size: 28 });
  const data = await loadSplits(dataset(g.name), spec, Number(arg('--threads') ?? 2));
  const started = performance.now();
  // as the server trains: for large sets each batch's second group on a worker thread (the same model as without)
  const groups = groupsFor({}, data.train.y.length) > 1 ? await cnnGroupThreads() : null;
  const outcome = await trainCnnModel(data, { ...DEFAULT_CNN_PARAMS, epochs }, { inputSize: 28, channels: g.channels, seed: 1, classWeight: null, ...(arg('--patience') ? { training: { patience: Number(arg('--patience')) } } : {}) }, {
    ...(groups ? { groupRunner: groups } : {}),
    onEpoch: (r) => console.log(`${g.name} epoch ${r.epoch}: loss ${r.loss.toFixed(3)} val loss ${r.valLoss.toFixed(3)} val acc ${r.valAccuracy.toFixed(3)} val AUC ${r.valAuc?.toFixed(3)} (${(r.ms / 1000).toFixed(1)} s)`),
  }).finally(() => groups?.close());
  const seconds = (performance.now() - started) / 1000;
  const t = outcome.test!;
  const net = outcome.predictor.classifier;
  const epochsRun = net.type === 'cnn' ? net.model.history.length : 0;
  const bestEpoch = net.type === 'cnn' ? net.model.bestEpoch : 0;
  results.push({ set: g.name, testAuc: t.auc, testAcc: t.accuracy, valAuc: outcome.estimate.metrics.auc, valAcc: outcome.estimate.metrics.accuracy, goalAuc: g.auc, goalAcc: g.acc, epochsRun, bestEpoch, seconds, train: data.train.y.length });
}
console.log('\nset           test AUC  test ACC  goal AUC/ACC  met   ResNet-18 (28)  AutoML Vision  epochs (best)  train imgs  time');
for (const r of results) {
  const g = GOALS.find((x) => x.name === r.set)!;
  const met = (r.testAuc ?? 0) >= r.goalAuc && r.testAcc >= r.goalAcc ? 'yes' : 'no';
  console.log(
    `${r.set.padEnd(13)} ${r.testAuc?.toFixed(3).padStart(8)}  ${r.testAcc.toFixed(3).padStart(8)}  ${`${r.goalAuc} / ${r.goalAcc}`.padStart(12)}  ${met.padEnd(4)}  ${`${g.resnet18[0]} / ${g.resnet18[1]}`.padStart(14)}  ${`${g.automl[0]} / ${g.automl[1]}`.padStart(13)}  ${`${r.epochsRun} (${r.bestEpoch})`.padStart(13)}  ${String(r.train).padStart(10)}  ${r.seconds.toFixed(0)} s`,
  );
}
const out = arg('--json');
if (out) writeFileSync(out, `${JSON.stringify(results, null, 1)}\n`);
