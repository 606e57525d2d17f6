/**
 * Wrote test/data/models/breast_ensemble_v3.json, the model-format-3 fixture (an ensemble: an
 * SVM on scalar HOG and GLCM features with a tiny CNN on the pixels, probabilities averaged,
 * a decision threshold), and its predictions: `npx tsx test/ensemble_fixture.gen.ts`. Kept to
 * say how the fixture was made; fixtures are never regenerated (test/data/models/README.md).
 * Training set: the first 20 images (in name order) of each class of BreastMNIST's `train/`.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useCnnBackend } from '../server/features/backend.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { ensembleWithFeatureScaler, type Predictor } from '../shared/classify/classifier.ts';
import { trainCnnModel } from '../shared/classify/cnn/train_model.ts';
import { countLabels } from '../shared/classify/dataset.ts';
import { featureColumns, takeColumns } from '../shared/classify/feature_columns.ts';
import { buildModelDocument, serializeModel, trainingContentHash } from '../shared/classify/model.ts';
import { DEFAULT_SETTINGS, trainModel, type LabelledSet, type TrainOutcome } from '../shared/classify/train.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { loadSplits, medclass } from './classify_data.ts';
import { dataset } from './golden.ts';

const NAME = 'breast_ensemble_v3';
const MODELS = join(PROJECT_ROOT, 'test', 'data', 'models');
const FEATURES = ['hogMean', 'hogVariance', 'glcmContrast', 'glcmHomogeneity', 'glcmCorrelation'] as const;
const SPEC = parseFeatureSpec({ features: [...FEATURES, 'pixels'], size: 28 });

const root = mkdtempSync(join(tmpdir(), 'medclass-ensemble-fixture-'));
try {
  for (const label of ['0', '1']) {
    const from = join(dataset('breastmnist'), 'train', label);
    mkdirSync(join(root, 'train', label), { recursive: true });
    for (const f of readdirSync(from).sort((a, b) => parseInt(a) - parseInt(b)).slice(0, 20)) cpSync(join(from, f), join(root, 'train', label, f));
  }
  const data = await loadSplits(root, SPEC);
  const featureCols = featureColumns(SPEC, [...FEATURES], 28, 28);
  const pixelCols = featureColumns(SPEC, ['pixels'], 28, 28);
  const cols = (s: LabelledSet, c: Int32Array): LabelledSet => ({ X: takeColumns(s.X, c), y: s.y });
  await useCnnBackend();
  const svm = trainModel({ labels: data.labels, train: cols(data.train, featureCols) }, { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
  const cnn = await trainCnnModel({ labels: data.labels, train: cols(data.train, pixelCols) }, { type: 'cnn', epochs: 1, widths: [4, 8], augment: false, flip: false }, { inputSize: 28, channels: 1, seed: 3, classWeight: null });
  const net = cnn.predictor.classifier;
  const fc = svm.predictor.classifier;
  if (net.type !== 'cnn' || fc.type !== 'svm') throw new Error('unexpected classifiers');
  const predictor: Predictor = {
    ...ensembleWithFeatureScaler(data.train.X.cols, { features: [...FEATURES], columns: featureCols, classifier: fc }, svm.predictor.scaler, [{ features: ['pixels'], columns: pixelCols, classifier: net }]),
    threshold: 0.45,
  };
  const outcome: TrainOutcome = { ...svm, predictor, params: { type: 'ensemble', members: [svm.params as never, cnn.params as never] } };
  const doc = buildModelDocument({
    spec: SPEC,
    labels: data.labels,
    featureLength: data.train.X.cols,
    imageSize: null,
    outcome,
    training: { size: data.train.y.length, counts: countLabels(Array.from(data.train.y, (c) => data.labels[c]!), data.labels), contentHash: trainingContentHash(data.train.X, data.train.y, data.labels), seed: 3 },
    createdAt: new Date('2026-12-06T00:00:00Z'),
  });
  const path = join(MODELS, `${NAME}.json`);
  writeFileSync(path, serializeModel(doc));

  // what `medclass predict --json` prints for the fixtures' test images
  const predictions = join(MODELS, 'predictions.json');
  const recorded = JSON.parse(readFileSync(predictions, 'utf8')) as { models: Record<string, { file: string }[]> };
  const files = recorded.models['breast_svm_rbf_v1']!.map((p) => p.file);
  const run = await medclass('predict', '--json', path, ...files.map((f) => join(PROJECT_ROOT, f)));
  if (run.code !== 0) throw new Error(run.stderr);
  recorded.models[NAME] = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { file: string })
    .map((p) => ({ ...p, file: p.file.slice(PROJECT_ROOT.length + 1) }));
  writeFileSync(predictions, `${JSON.stringify(recorded, null, 1)}\n`);
  process.stdout.write(`wrote ${path} and its predictions\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
