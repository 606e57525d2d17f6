import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predict } from '../shared/classify/classifier.ts';
import { takeRows } from '../shared/classify/linalg.ts';
import { buildModelDocument, integrityHash, parseModel, serializeModel, trainingContentHash, type ModelDocument } from '../shared/classify/model.ts';
import type { CandidateParams } from '../shared/classify/params.ts';
import { DEFAULT_SETTINGS, trainModel, type TrainOutcome } from '../shared/classify/train.ts';
import { countLabels } from '../shared/classify/dataset.ts';
import { PARITY_SPEC, loadSplits, medclass, type LoadedSplits } from './classify_data.ts';
import { dataset } from './golden.ts';

const tmp = mkdtempSync(join(tmpdir(), 'medclass-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RBF: CandidateParams = { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } };
const KNN: CandidateParams = { type: 'knn', k: 5, metric: 'euclidean', weights: 'uniform' };
const CREATED = new Date('2026-01-01T00:00:00Z');

let data: LoadedSplits;
const documentOf = (outcome: TrainOutcome): ModelDocument =>
  buildModelDocument({
    spec: PARITY_SPEC,
    labels: data.labels,
    featureLength: data.train.X.cols,
    imageSize: { width: 28, height: 28 },
    outcome,
    training: {
      size: data.train.y.length,
      counts: countLabels(data.files.train.map((f) => f.label), data.labels),
      contentHash: trainingContentHash(data.train.X, data.train.y, data.labels),
      seed: 1,
    },
    createdAt: CREATED,
  });

beforeAll(async () => {
  data = await loadSplits(dataset('breastmnist'));
}, 60_000);

/** Writes a changed copy of a model file, its hash recomputed (or not), and returns the path. */
function variant(doc: ModelDocument, name: string, change: (d: Record<string, unknown>) => void, rehash = true): string {
  const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  change(copy);
  if (rehash) (copy['integrity'] as { sha256: string }).sha256 = integrityHash(copy);
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify(copy));
  return path;
}

describe('model file', () => {
  it.each([
    ['svm', RBF],
    ['knn', KNN],
  ] as const)('%s: saved, loaded here and in a fresh process, predicts the same bits', async (name, params) => {
    const outcome = trainModel(data, { ...DEFAULT_SETTINGS, params });
    const doc = documentOf(outcome);
    const path = join(tmp, `${name}.json`);
    writeFileSync(path, serializeModel(doc));
    const loaded = parseModel(readFileSync(path, 'utf8'));
    const test = data.test!;
    const fresh = predict(outcome.predictor, test.X);
    const again = predict(loaded.predictor, test.X);
    expect(Array.from(again.predicted)).toEqual(Array.from(fresh.predicted));
    expect(Array.from(again.scores)).toEqual(Array.from(fresh.scores));
    expect(Array.from(again.probabilities!)).toEqual(Array.from(fresh.probabilities!));
    expect(loaded.doc.metrics.test!.accuracy).toBe(outcome.test!.accuracy);

    // A fresh process: the CLI extracts the same files and prints the same labels and scores.
    const pick = [0, 1, 2, 40, 41, 42, 43, 75, 100, 155];
    const { code, stdout, stderr } = await medclass('predict', '--json', path, ...pick.map((i) => data.files.test[i]!.path));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string; scores: Record<string, number> });
    const expected = predict(outcome.predictor, takeRows(test.X, pick));
    lines.forEach((line, r) => {
      expect(line.file).toBe(data.files.test[pick[r]!]!.path);
      expect(line.label).toBe(data.labels[expected.predicted[r]!]);
      expect(data.labels.map((l) => line.scores[l])).toEqual(Array.from(expected.probabilities!.subarray(r * 2, r * 2 + 2)));
    });
  });

  it('is the same document for the same data and seed', () => {
    const a = documentOf(trainModel(data, { ...DEFAULT_SETTINGS, params: RBF, seed: 3 }));
    const b = documentOf(trainModel(data, { ...DEFAULT_SETTINGS, params: RBF, seed: 3 }));
    expect(b.integrity.sha256).toBe(a.integrity.sha256);
    const c = documentOf(trainModel(data, { ...DEFAULT_SETTINGS, params: RBF, seed: 4 }));
    // Another seed draws other folds (for the estimate and Platt's cross-validation), not another SVM.
    expect(c.classifier).toMatchObject({ supportVectors: (a.classifier as { supportVectors: unknown }).supportVectors });
    expect((c.classifier as { probA: number[] }).probA).not.toEqual((a.classifier as { probA: number[] }).probA);
  });

  it('refuses a changed file, a newer format, another format and a spec it cannot honour', async () => {
    const doc = documentOf(trainModel(data, { ...DEFAULT_SETTINGS, params: KNN, probability: false }));
    const tampered = variant(doc, 'tampered.json', (d) => ((d['labels'] as string[])[0] = 'benign'), false);
    const edited = variant(doc, 'edited.json', (d) => {
      const c = d['classifier'] as { samples: { base64: string } };
      c.samples.base64 = `${c.samples.base64[0] === 'A' ? 'B' : 'A'}${c.samples.base64.slice(1)}`;
    }, false);
    const future = variant(doc, 'future.json', (d) => (d['version'] = 4));
    const other = variant(doc, 'other.json', (d) => (d['format'] = 'something-else'));
    const spec = variant(doc, 'spec.json', (d) => ((d['spec'] as { features: string[] }).features = ['hog', 'sift']));
    const shape = variant(doc, 'shape.json', (d) => ((d['classifier'] as { targets: number[] }).targets.pop()));
    // a shape that declares a million samples the file does not hold: refused before any decoding or allocation
    const short = variant(doc, 'short.json', (d) => {
      const c = d['classifier'] as { samples: { shape: number[]; base64: string }; targets: number[] };
      c.targets = Array.from({ length: 1_000_000 }, () => 0);
      c.samples.shape = [1_000_000, c.samples.shape[1]!];
    });
    const read = (p: string) => () => parseModel(readFileSync(p, 'utf8'));
    expect(read(tampered)).toThrow(/integrity check/);
    expect(read(edited)).toThrow(/integrity check/);
    expect(read(future)).toThrow(/version 4 is newer than this MedClass reads \(version 3\)/);
    expect(read(other)).toThrow(/not a MedClass model file/);
    expect(read(spec)).toThrow(/feature spec cannot be used here: invalid feature spec: features\.1/);
    expect(read(shape)).toThrow(/samples has shape/);
    expect(read(short)).toThrow(/samples: \d+ base64 characters, its shape \[1000000,\d+\] needs \d+/);
    expect(() => parseModel(readFileSync(shape, 'utf8'), 1000)).toThrow(/characters long, more than the limit of 1000/);
    expect(() => parseModel('{not json')).toThrow(/not JSON/);
    const image = data.files.test[0]!.path;
    const runs = await Promise.all([tampered, future].map((p) => medclass('predict', p, image)));
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(runs[0]!.stderr).toMatch(/tampered\.json: model file failed its integrity check/);
    expect(runs[1]!.stderr).toMatch(/newer than this MedClass reads/);
  }, 120_000);
});
