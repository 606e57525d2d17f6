import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCnnBackend } from '../server/features/backend.ts';
import { predict } from '../shared/classify/classifier.ts';
import { trainCnnModel } from '../shared/classify/cnn/train_model.ts';
import { parseModel, serializeModel, type ModelDocument } from '../shared/classify/model.ts';
import type { CnnParams } from '../shared/classify/params.ts';
import type { TrainOutcome } from '../shared/classify/train.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { loadSplits, medclass, smallDocument, smallSplits, type LoadedSplits, type SmallSplits } from './classify_data.ts';
import { dataset } from './golden.ts';

const tmp = mkdtempSync(join(tmpdir(), 'medclass-cnn-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Tiny on purpose (two shared cores): the network's plumbing, not its accuracy, is under test. */
const SPEC = parseFeatureSpec({ features: ['pixels'], size: 28 });
const PARAMS: CnnParams = { type: 'cnn', epochs: 2, widths: [4, 8], augment: true, flip: true };
const SHAPE = { inputSize: 28, channels: 1, seed: 7, classWeight: null } as const;
const TRAIN_ROWS = Int32Array.from({ length: 48 }, (_, i) => (i < 24 ? i : 546 - 48 + i));

let data: LoadedSplits;
let small: SmallSplits;

beforeAll(async () => {
  data = await loadSplits(dataset('breastmnist'), SPEC);
  small = smallSplits(data, TRAIN_ROWS);
  await useCnnBackend();
}, 120_000);

const documentOf = (outcome: TrainOutcome): ModelDocument => smallDocument(SPEC, small, outcome, 7);

describe('CNN model', () => {
  it('trains the same model for the same seed, and another for another seed (wasm backend)', { timeout: 300_000 }, async () => {
    const a = documentOf(await trainCnnModel(small, PARAMS, SHAPE));
    const b = documentOf(await trainCnnModel(small, PARAMS, SHAPE));
    expect(b.classifier).toEqual(a.classifier);
    expect(b.integrity.sha256).toBe(a.integrity.sha256);
    const c = documentOf(await trainCnnModel(small, PARAMS, { ...SHAPE, seed: 8 }));
    expect(c.classifier).not.toEqual(a.classifier);
  });

  it('saved, loaded here and in a fresh process, predicts the same labels and scores (within 1e-5)', { timeout: 300_000 }, async () => {
    const outcome = await trainCnnModel(small, PARAMS, SHAPE);
    const doc = documentOf(outcome);
    expect(doc.version).toBe(2);
    expect(doc.classifier.type).toBe('cnn');
    const path = join(tmp, 'cnn.json');
    writeFileSync(path, serializeModel(doc));
    const loaded = parseModel(readFileSync(path, 'utf8'));
    const fresh = predict(outcome.predictor, small.test.X);
    const again = predict(loaded.predictor, small.test.X);
    expect(Array.from(again.predicted)).toEqual(Array.from(fresh.predicted));
    expect(Array.from(again.scores)).toEqual(Array.from(fresh.scores));

    // A fresh process: `medclass predict` decodes and resizes the same files and classifies them.
    const pick = [0, 1, 2, 3, 20, 21, 22, 23];
    const { code, stdout, stderr } = await medclass('predict', '--json', path, ...pick.map((i) => data.files.test[i]!.path));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; scores: Record<string, number> });
    lines.forEach((line, r) => {
      expect(line.label).toBe(small.labels[fresh.predicted[pick[r]!]!]);
      small.labels.forEach((l, c) => expect(Math.abs(line.scores[l]! - fresh.scores[pick[r]! * 2 + c]!)).toBeLessThan(1e-5));
    });
  });

  it('with two blocks a stage, mixup and label smoothing: the file records them and predicts the same after loading; keep: last keeps the last epoch', { timeout: 300_000 }, async () => {
    const plain = documentOf(await trainCnnModel(small, { ...PARAMS, epochs: 1 }, SHAPE));
    expect(plain.classifier.type === 'cnn' && 'blocks' in plain.classifier.architecture).toBe(false);
    const params: CnnParams = { ...PARAMS, epochs: 1, blocks: 2, mixup: 0.4, labelSmoothing: 0.1 };
    const outcome = await trainCnnModel(small, params, SHAPE);
    const doc = documentOf(outcome);
    if (doc.classifier.type !== 'cnn') throw new Error('not a CNN');
    expect(doc.classifier.architecture.blocks).toBe(2);
    expect(doc.training.params).toEqual(params);
    // stage 0's second block and stage 1's after the strided one
    const names = doc.classifier.weights.length;
    expect(plain.classifier.type === 'cnn' && names - plain.classifier.weights.length).toBe(2 * 2 * 5);
    const loaded = parseModel(serializeModel(doc));
    const fresh = predict(outcome.predictor, small.test.X);
    const again = predict(loaded.predictor, small.test.X);
    expect(Array.from(again.scores)).toEqual(Array.from(fresh.scores));
    // the same seed without mixup and smoothing trains another model
    const noMix = documentOf(await trainCnnModel(small, { ...params, mixup: undefined, labelSmoothing: undefined } as CnnParams, SHAPE));
    expect(noMix.classifier).not.toEqual(doc.classifier);
    // keep: 'last' keeps the last epoch's averaged weights whatever the validation loss
    // (the same training as the default's, which keeps an earlier epoch for this seed)
    const kept = async (keep: 'best' | 'last') => {
      const c = (await trainCnnModel(small, { ...PARAMS, epochs: 3 }, { ...SHAPE, training: { keep } })).predictor.classifier;
      if (c.type !== 'cnn') throw new Error('not a CNN');
      return c.model;
    };
    const best = await kept('best');
    const lowest = best.history.reduce((a, h) => (h.valLoss < a.valLoss ? h : a)).epoch;
    expect(best.bestEpoch).toBe(lowest);
    expect(lowest).toBeLessThan(3);
    expect((await kept('last')).bestEpoch).toBe(3);
  });

  it('refuses weights that do not fit the architecture, each with its reason', { timeout: 300_000 }, async () => {
    const doc = documentOf(await trainCnnModel(small, { ...PARAMS, epochs: 1 }, SHAPE));
    const { integrityHash } = await import('../shared/classify/model.ts');
    const variant = (change: (c: Record<string, unknown>) => void) => {
      const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
      change(copy['classifier'] as Record<string, unknown>);
      (copy['integrity'] as { sha256: string }).sha256 = integrityHash(copy);
      return () => parseModel(JSON.stringify(copy));
    };
    expect(variant((c) => (c['weights'] as unknown[]).pop())).toThrow(/the network has \d+ parameters, the file \d+/);
    expect(variant((c) => ((c['architecture'] as { classes: number }).classes = 3))).toThrow(/the network has 3 outputs, labels 2/);
    expect(variant((c) => ((c['weights'] as { shape: number[] }[])[0]!.shape = [3, 3, 1, 5]))).toThrow(/weights\[0\] is stem\/kernel \[3,3,1,5\]/);
  });
});
