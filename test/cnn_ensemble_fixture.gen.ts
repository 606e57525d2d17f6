/**
 * Writes test/data/models/breast_cnn_ensemble_v3.json (run once; never regenerate, see that folder's
 * README): the shape --auto ships since the CNN ensemble, an SVM on intensity features and four
 * small CNNs on the pixels (one per seed), their probabilities averaged, with a threshold.
 * Trained on DS (the first 12 images, in name order, of each class of BreastMNIST's train/).
 * npx tsx test/cnn_ensemble_fixture.gen.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useCnnBackend } from '../server/features/backend.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { ensembleWithFeatureScaler, type Predictor } from '../shared/classify/classifier.ts';
import { trainCnnModel } from '../shared/classify/cnn/train_model.ts';
import { featureColumns, takeColumns } from '../shared/classify/feature_columns.ts';
import { serializeModel } from '../shared/classify/model.ts';
import { DEFAULT_SETTINGS, trainModel, type TrainOutcome } from '../shared/classify/train.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { loadSplits, smallDocument, smallSplits } from './classify_data.ts';
import { dataset } from './golden.ts';

const SPEC = parseFeatureSpec({ features: ['intensityHistogram', 'intensityMoments', 'pixels'], size: 28 });
const FEATURES = ['intensityHistogram', 'intensityMoments'] as const;
await useCnnBackend();
const data = await loadSplits(dataset('breastmnist'), SPEC, 1);
const byName = (cls: string) =>
  data.files.train
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => f.label === cls)
    .sort((a, b) => (a.f.name < b.f.name ? -1 : 1))
    .slice(0, 12)
    .map(({ i }) => i);
const small = smallSplits(data, [...byName('0'), ...byName('1')]);
const featureCols = featureColumns(SPEC, [...FEATURES], 28, 28);
const pixelCols = featureColumns(SPEC, ['pixels'], 28, 28);
const svm = trainModel({ labels: small.labels, train: { X: takeColumns(small.train.X, featureCols), y: small.train.y } }, { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
const cnns: TrainOutcome[] = [];
for (const seed of [1, 2, 3, 4]) {
  cnns.push(await trainCnnModel({ labels: small.labels, train: { X: takeColumns(small.train.X, pixelCols), y: small.train.y } }, { type: 'cnn', epochs: 2, widths: [4, 8], augment: true, flip: true }, { inputSize: 28, channels: 1, seed, classWeight: null }));
}
const fc = svm.predictor.classifier;
if (fc.type !== 'svm') throw new Error('not an SVM');
const predictor: Predictor = {
  ...ensembleWithFeatureScaler(
    small.train.X.cols,
    { features: [...FEATURES], columns: featureCols, classifier: fc },
    svm.predictor.scaler,
    cnns.map((c) => {
      const net = c.predictor.classifier;
      if (net.type !== 'cnn') throw new Error('not a CNN');
      return { features: ['pixels' as const], columns: pixelCols, classifier: net };
    }),
  ),
  threshold: 0.55,
};
const outcome: TrainOutcome = { ...svm, predictor, params: { type: 'ensemble', members: [svm.params as never, ...cnns.map((c) => c.params as never)] } };
writeFileSync(join(PROJECT_ROOT, 'test', 'data', 'models', 'breast_cnn_ensemble_v3.json'), serializeModel(smallDocument(SPEC, small, outcome, 1)));
