import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCnnBackend } from '../server/features/backend.ts';
import { ensembleWithFeatureScaler, evaluateClassifier, predict, shiftProbabilities, shownScores, type Predictor } from '../shared/classify/classifier.ts';
import { transform } from '../shared/classify/scaler.ts';
import { trainCnnModel } from '../shared/classify/cnn/train_model.ts';
import { argmaxRow } from '../shared/classify/evaluation.ts';
import { featureColumns, takeColumns } from '../shared/classify/feature_columns.ts';
import { integrityHash, parseModel, serializeModel, type ModelDocument } from '../shared/classify/model.ts';
import { DEFAULT_SETTINGS, trainModel, type LabelledSet, type TrainOutcome } from '../shared/classify/train.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { loadSplits, medclass, smallDocument, smallSplits, type LoadedSplits, type SmallSplits } from './classify_data.ts';
import { dataset } from './golden.ts';

/**
 * The ensemble classifier (--auto's best feature model with the CNN, probabilities averaged):
 * its model file round trip, here and in a fresh process, and the threshold's shown
 * probabilities agreeing with the label. Tiny on purpose: the plumbing is under test.
 */
const tmp = mkdtempSync(join(tmpdir(), 'medclass-ensemble-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SPEC = parseFeatureSpec({ features: ['intensityHistogram', 'intensityMoments', 'pixels'], size: 28 });
const FEATURES = ['intensityHistogram', 'intensityMoments'] as const;
let data: LoadedSplits;
let small: SmallSplits;
let featureCols: Int32Array;
let pixelCols: Int32Array;
let ensemble: TrainOutcome;

const cols = (s: LabelledSet, c: Int32Array): LabelledSet => ({ X: takeColumns(s.X, c), y: s.y });

beforeAll(async () => {
  const range = (n: number, from = 0) => Int32Array.from({ length: n }, (_, i) => from + i);
  data = await loadSplits(dataset('breastmnist'), SPEC);
  small = smallSplits(data, Int32Array.from([...range(30), ...range(30, 546 - 30)]));
  featureCols = featureColumns(SPEC, [...FEATURES], 28, 28);
  pixelCols = featureColumns(SPEC, ['pixels'], 28, 28);
  await useCnnBackend();
  const svm = trainModel({ labels: small.labels, train: cols(small.train, featureCols) }, { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
  const cnn = await trainCnnModel({ labels: small.labels, train: cols(small.train, pixelCols) }, { type: 'cnn', epochs: 1, widths: [4, 8], augment: false, flip: false }, { inputSize: 28, channels: 1, seed: 3, classWeight: null });
  const net = cnn.predictor.classifier;
  const fc = svm.predictor.classifier;
  if (net.type !== 'cnn' || fc.type !== 'svm') throw new Error('unexpected classifiers');
  const predictor: Predictor = {
    ...ensembleWithFeatureScaler(small.train.X.cols, { features: [...FEATURES], columns: featureCols, classifier: fc }, svm.predictor.scaler, [{ features: ['pixels'], columns: pixelCols, classifier: net }]),
    threshold: 0.4,
  };
  ensemble = { ...svm, predictor, params: { type: 'ensemble', members: [svm.params as never, cnn.params as never] } };
}, 300_000);

const documentOf = (outcome: TrainOutcome): ModelDocument => smallDocument(SPEC, small, outcome, 3);

describe('ensemble model', () => {
  it('averages its members probabilities: the mean of the SVM on its columns and the CNN on the pixels', () => {
    const e = predict({ ...ensemble.predictor, threshold: undefined }, small.test.X);
    const members = ensemble.predictor.classifier.type === 'ensemble' ? ensemble.predictor.classifier.members : [];
    const standardised = transform(ensemble.predictor.scaler, small.test.X);
    const svmPart = evaluateClassifier(members[0]!.classifier, takeColumns(standardised, featureCols));
    const cnnPart = evaluateClassifier(members[1]!.classifier, takeColumns(standardised, pixelCols));
    for (let i = 0; i < e.scores.length; i++) expect(e.scores[i]).toBeCloseTo((svmPart.probabilities![i]! + cnnPart.probabilities![i]!) / 2, 12);
  });

  it('weighs its members where they carry weights (the weighted mean of their probabilities), and its file keeps the weights', () => {
    const members = ensemble.predictor.classifier.type === 'ensemble' ? ensemble.predictor.classifier.members : [];
    const weighted: Predictor = { scaler: ensemble.predictor.scaler, classifier: { type: 'ensemble', members: members.map((m, i) => ({ ...m, weight: i === 0 ? 0.3 : 0.7 })) } };
    const e = predict(weighted, small.test.X);
    const standardised = transform(ensemble.predictor.scaler, small.test.X);
    const svmPart = evaluateClassifier(members[0]!.classifier, takeColumns(standardised, featureCols));
    const cnnPart = evaluateClassifier(members[1]!.classifier, takeColumns(standardised, pixelCols));
    for (let i = 0; i < e.scores.length; i++) expect(e.scores[i]).toBeCloseTo(0.3 * svmPart.probabilities![i]! + 0.7 * cnnPart.probabilities![i]!, 12);
    const doc = documentOf({ ...ensemble, predictor: weighted });
    expect(doc.classifier.type === 'ensemble' ? doc.classifier.members.map((m) => m.weight) : []).toEqual([0.3, 0.7]);
    const again = predict(parseModel(serializeModel(doc)).predictor, small.test.X);
    expect(Array.from(again.scores)).toEqual(Array.from(e.scores));
    // without weights the file has none, and equal weights give the same bits as before weights existed
    const plain = documentOf(ensemble);
    expect(plain.classifier.type === 'ensemble' ? plain.classifier.members.map((m) => 'weight' in m) : []).toEqual([false, false]);
    // a weight must be positive
    const bad = JSON.parse(serializeModel(doc)) as Record<string, unknown> & { classifier: { members: { weight: number }[] } };
    bad.classifier.members[0]!.weight = 0;
    bad['integrity'] = { sha256: integrityHash(bad) };
    expect(() => parseModel(JSON.stringify(bad))).toThrow(/weight/);
  });

  it('saved as format version 3, loaded here and in a fresh process, predicts the same labels and scores', { timeout: 300_000 }, async () => {
    const doc = documentOf(ensemble);
    expect(doc.version).toBe(3);
    expect(doc.classifier.type).toBe('ensemble');
    const path = join(tmp, 'ensemble.json');
    writeFileSync(path, serializeModel(doc));
    const loaded = parseModel(readFileSync(path, 'utf8'));
    const fresh = predict(ensemble.predictor, small.test.X);
    const again = predict(loaded.predictor, small.test.X);
    expect(Array.from(again.predicted)).toEqual(Array.from(fresh.predicted));
    expect(Array.from(again.scores)).toEqual(Array.from(fresh.scores));
    expect(Array.from(again.probabilities!)).toEqual(Array.from(fresh.probabilities!));

    const pick = [0, 1, 2, 3, 20, 21, 22, 23];
    const { code, stdout, stderr } = await medclass('predict', '--json', path, ...pick.map((i) => data.files.test[i]!.path));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; scores: Record<string, number> });
    lines.forEach((line, r) => {
      expect(line.label).toBe(small.labels[fresh.predicted[pick[r]!]!]);
      small.labels.forEach((l, c) => expect(Math.abs(line.scores[l]! - fresh.probabilities![pick[r]! * 2 + c]!)).toBeLessThan(1e-5));
    });
  });

  it('refuses a member that reads a feature the spec does not extract, and an ensemble in an older format version', () => {
    const doc = documentOf(ensemble);
    const edited = (change: (d: Record<string, unknown>) => void): string => {
      const d = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
      change(d);
      d['integrity'] = { sha256: integrityHash(d) };
      return JSON.stringify(d);
    };
    expect(() => parseModel(edited((d) => ((d['classifier'] as { members: { features: string[] }[] }).members[0]!.features = ['lbp'])))).toThrow(/members\[0\] reads lbp, which the spec does not extract/);
    expect(() => parseModel(edited((d) => (d['version'] = 2)))).toThrow(/ensemble needs format version 3/);
  });
});

describe('a threshold and the probabilities shown', () => {
  it('an SVM with a threshold: the shown values put the label first and keep the ranking; the scores stay', () => {
    // a weak SVM (60 training images), whose Platt sigmoid may even run against its decision values, and a good one (all of train)
    for (const train of [cols(small.train, featureCols), cols(data.train, featureCols)]) {
      const svm = trainModel({ labels: small.labels, train }, { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
      const X = takeColumns(data.test!.X, featureCols);
      const plain = predict(svm.predictor, X);
      const scores1 = Array.from({ length: X.rows }, (_, i) => plain.scores[i * 2 + 1]!).sort((a, b) => a - b);
      for (const t of [scores1[10]!, scores1[Math.floor(X.rows / 2)]!, scores1[X.rows - 10]!]) {
        const p = { ...svm.predictor, threshold: t };
        const e = predict(p, X);
        const shown = shownScores(p, e);
        const a = (svm.predictor.classifier as { model: { probA: Float64Array } }).model.probA[0]!;
        expect(e.probabilities === null).toBe(!(a < 0));
        let disagree = 0;
        for (let i = 0; i < X.rows; i++) {
          expect(e.predicted[i]).toBe(plain.scores[i * 2 + 1]! > t ? 1 : 0);
          // the label is the larger shown value (an exact tie at the threshold shows two equal values)
          if (shown[i * 2]! !== shown[i * 2 + 1]! && argmaxRow(shown, i, 2) !== e.predicted[i]) disagree++;
          if (e.probabilities) {
            expect(shown[i * 2]! + shown[i * 2 + 1]!).toBeCloseTo(1, 12);
            for (let j = 0; j < X.rows; j++) if (plain.probabilities![i * 2 + 1]! < plain.probabilities![j * 2 + 1]!) expect(shown[i * 2 + 1]!).toBeLessThanOrEqual(shown[j * 2 + 1]!);
          }
        }
        expect(disagree).toBe(0);
        expect(Array.from(e.scores)).toEqual(Array.from(plain.scores));
      }
    }
  });

  it('shiftProbabilities moves the threshold to one half by the odds, and leaves 0 and 1 where they are', () => {
    const shifted = shiftProbabilities(Float64Array.from([0.7, 0.3, 0.5, 0.5, 1, 0, 0, 1]), 0.3);
    expect(shifted[1]).toBeCloseTo(0.5, 12);
    expect(shifted[3]).toBeCloseTo((0.5 * 0.7) / (0.5 * 0.7 + 0.5 * 0.3), 12);
    expect(shifted[5]).toBe(0);
    expect(shifted[7]).toBe(1);
  });
});

