import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { computeMetrics } from '../shared/classify/metrics.ts';
import { parseModel } from '../shared/classify/model.ts';
import { DEFAULT_SETTINGS } from '../shared/classify/train.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { scanDataset } from '../server/training/dataset.ts';
import { trainDataset, type DatasetItem } from '../server/training/train_dataset.ts';
import { medclass } from './classify_data.ts';
import { dataset } from './golden.ts';

/**
 * --auto with the CNN on a BreastMNIST subset: the feature search, then the CNN and the
 * ensemble against the feature winner out of fold on train/, and the chosen model's file, read back in a
 * fresh process, scoring test as the training reported. A tiny network: the plumbing is
 * under test, not the network's accuracy.
 */
const tmp = mkdtempSync(join(tmpdir(), 'medclass-auto-cnn-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Finalist {
  candidate: 'features' | 'CNN' | 'ensemble';
  score: number;
  auc: number | null;
  threshold: number | null;
  val?: { score: number; auc: number | null };
}

describe('--auto with the CNN', () => {
  it('compares the feature model, the CNN and their ensemble out of fold on train/ (val/ beside), keeps the best, and its file scores test the same in a fresh process', { timeout: 900_000 }, async () => {
    const layout = await scanDataset(dataset('breastmnist'));
    const take = (split: string, label: string, n: number) => layout.files.filter((f) => f.split === split && f.label === label).slice(0, n);
    const files = [...take('train', '0', 30), ...take('train', '1', 40), ...take('val', '0', 15), ...take('val', '1', 15), ...take('test', '0', 15), ...take('test', '1', 15)];
    const items: DatasetItem[] = files.map((f) => ({ name: f.name, split: f.split, label: f.label, bytes: new Uint8Array(readFileSync(f.path)) }));
    const spec = parseFeatureSpec({});
    const epochs: number[] = [];
    const result = await trainDataset(items, spec, { ...DEFAULT_SETTINGS, auto: true, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } }, { onEpoch: (r) => epochs.push(r.epoch) }, {
      layout: 'splits',
      threads: 2,
      search: {
        budgetMs: 600_000,
        sizes: [0],
        sets: [{ name: 'intensity', families: ['intensity'] }],
        classifiers: ['SVM (rbf)'],
        cnn: true,
        cnnMembers: 3,
        cnnParams: { type: 'cnn', epochs: 2, widths: [4, 8], augment: false, flip: false },
      },
    });
    const auto = result.outcome.auto!;
    const round = auto['cnn'] as unknown as { compared: Finalist[]; chosen: string; epochs: number; on: string; alsoOn: string; members: { fold: number; seed: number; epochs: number }[] };
    // the three members' folds of the 70 training images: 14 each
    expect(round.on).toBe('out of fold on train/ (3 of 5 folds, 42 images)');
    expect(round.alsoOn).toBe('val/');
    expect(round.compared.map((f) => f.candidate)).toEqual(['features', 'CNN', 'ensemble']);
    for (const f of round.compared) expect(f.val).toBeDefined();
    // three CNNs, one per fold of train/ with a seed of its own (the budget does not cut them here); the curves are the first's
    expect(round.members.map((m) => [m.fold, m.seed])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(epochs.length).toBe(round.epochs);
    expect(round.members[0]!.epochs).toBe(round.epochs);
    // the CNNs' and the ensemble's threshold: Bayes's rule for balanced accuracy, train/'s share of class 1 (40 of 70), not fitted to val/
    for (const f of round.compared.filter((c) => c.candidate !== 'features')) expect(f.threshold).toBe(40 / 70);
    // the best by AUC (the default ranking), then the measure; the earlier on a tie
    let best = round.compared[0]!;
    for (const f of round.compared.slice(1)) if ((f.auc ?? -1) > (best.auc ?? -1) || (f.auc === best.auc && f.score > best.score)) best = f;
    expect(round.chosen).toBe(best.candidate);
    const type = result.doc.classifier.type;
    // the CNN finalist is the three CNNs' mean (an ensemble file); the ensemble adds the feature model to them
    expect(type).toBe({ features: 'svm', CNN: 'ensemble', ensemble: 'ensemble' }[best.candidate]);
    expect(result.doc.version).toBe({ features: 1, CNN: 3, ensemble: 3 }[best.candidate]);
    const members = result.doc.classifier.type === 'ensemble' ? result.doc.classifier.members.map((m) => m.classifier.type) : [];
    if (best.candidate !== 'features') expect(members).toEqual([...(best.candidate === 'ensemble' ? ['svm'] : []), 'cnn', 'cnn', 'cnn']);
    // the ensemble weighs the feature model against the CNNs' mean by the weight chosen out of fold; the CNNs share the rest
    const weight = (round as unknown as { ensembleWeight: { chosen: number; tried: { weight: number }[] } }).ensembleWeight;
    expect(weight.tried.map((t) => t.weight)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    const weights = result.doc.classifier.type === 'ensemble' ? result.doc.classifier.members.map((m) => m.weight) : [];
    if (best.candidate === 'ensemble') expect(weights).toEqual([weight.chosen, ...Array.from({ length: 3 }, () => (1 - weight.chosen) / 3)]);
    if (best.candidate === 'CNN') expect(weights).toEqual([undefined, undefined, undefined]);
    expect((result.doc.training.auto as { cnn: unknown }).cnn).toEqual(round);
    expect(result.doc.decision?.threshold ?? null).toBe(best.candidate === 'features' ? (result.outcome.predictor.threshold ?? null) : best.threshold);

    // the saved file, in a fresh process, on the same test images: the metrics the training reported
    const path = join(tmp, 'model.json');
    writeFileSync(path, result.modelText);
    const model = parseModel(result.modelText);
    expect(model.spec.features).toEqual(result.spec.features);
    const testFiles = files.filter((f) => f.split === 'test');
    const { code, stdout, stderr } = await medclass('predict', '--json', path, ...testFiles.map((f) => f.path));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; scores: Record<string, number> });
    const labels = result.labels;
    const truth = Int32Array.from(testFiles, (f) => labels.indexOf(f.label));
    const predicted = Int32Array.from(lines, (l) => labels.indexOf(l.label));
    const shown = Float64Array.from(lines.flatMap((l) => labels.map((c) => l.scores[c]!)));
    // the label is the class shown as more probable (or a tie); an SVM's own vote without a threshold may differ from Platt's
    if (type !== 'svm' || result.doc.decision) lines.forEach((l) => expect(l.scores[l.label]!).toBeGreaterThanOrEqual(Math.max(...Object.values(l.scores))));
    const m = computeMetrics(truth, { k: 2, predicted, scores: shown, probabilities: null }, labels);
    expect(m.accuracy).toBeCloseTo(result.outcome.test!.accuracy, 12);
  });

  it('without a val/ split (one CNN asked for), compares on its fold of train/ and ships a model trained on all of train/', { timeout: 900_000 }, async () => {
    const layout = await scanDataset(dataset('breastmnist'));
    const files = [...layout.files.filter((f) => f.split === 'train' && f.label === '0').slice(0, 30), ...layout.files.filter((f) => f.split === 'train' && f.label === '1').slice(0, 30)];
    const items: DatasetItem[] = files.map((f) => ({ name: f.name.replace(/^train\//, ''), split: 'train', label: f.label, bytes: new Uint8Array(readFileSync(f.path)) }));
    const result = await trainDataset(items, parseFeatureSpec({}), { ...DEFAULT_SETTINGS, auto: true, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } }, {}, {
      layout: 'classes',
      threads: 2,
      search: { budgetMs: 600_000, sizes: [0], sets: [{ name: 'intensity', families: ['intensity'] }], classifiers: ['KNN'], rankBy: 'auc', cnn: true, cnnMembers: 1, cnnParams: { type: 'cnn', epochs: 1, widths: [4, 8], augment: false, flip: false } },
    });
    const round = result.outcome.auto!['cnn'] as unknown as { compared: Finalist[]; chosen: string; on: string; alsoOn?: string; members: unknown[] };
    expect(round.members.length).toBe(1);
    expect(round.on).toBe('out of fold on train/ (1 of 5 folds, 12 images)');
    expect(round.alsoOn).toBeUndefined();
    expect(round.compared.map((f) => f.candidate)).toEqual(['features', 'CNN', 'ensemble']);
    for (const f of round.compared) expect(f.val).toBeUndefined();
    // --rank-by auc ranks the finalists too: AUC, then balanced accuracy; the earlier on a tie
    let best = round.compared[0]!;
    for (const f of round.compared.slice(1)) if ((f.auc ?? -1) > (best.auc ?? -1) || (f.auc === best.auc && f.score > best.score)) best = f;
    expect(round.chosen).toBe(best.candidate);
    const model = parseModel(result.modelText);
    expect(model.doc.classifier.type).toBe({ features: 'knn', CNN: 'cnn', ensemble: 'ensemble' }[round.chosen as Finalist['candidate']]);
    // what ships, whichever wins, was trained on all of train/; a CNN's or ensemble's estimate is the comparison's fold
    expect(model.doc.training.size).toBe(60);
    if (round.chosen !== 'features') expect(result.outcome.estimate).toMatchObject({ mode: 'cross-validation', folds: 1 });
  });
});

