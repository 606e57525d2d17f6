import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { medclass } from './classify_data.ts';
import { dataset } from './golden.ts';

const tmp = mkdtempSync(join(tmpdir(), 'medclass-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const BREAST = dataset('breastmnist');

/** A dataset folder built from BreastMNIST images: { label: how many } per class. */
function makeDataset(name: string, classes: Record<string, number>): string {
  const root = join(tmp, name);
  for (const [label, count] of Object.entries(classes)) {
    mkdirSync(join(root, label), { recursive: true });
    const source = join(BREAST, 'train', label === 'b' ? '1' : '0');
    for (const f of readdirSync(source).slice(0, count)) cpSync(join(source, f), join(root, label, f));
  }
  return root;
}

describe('medclass train, evaluate, predict', () => {
  it('trains on split folders, warns about the conflicting duplicate, and evaluate reproduces its test metrics', async () => {
    const out = join(tmp, 'breast-knn.json');
    const train = await medclass('train', BREAST, '--classifier', 'knn', '--size', '0', '--out', out);
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/class\s+train\s+val\s+test\s+total\n0\s+147\s+21\s+42\s+210\n1\s+399\s+57\s+114\s+570/);
    expect(train.stdout).toMatch(/validation \(val\/, 78 images\): accuracy/);
    expect(train.stdout).toMatch(/test \(test\/, 156 images, scored once\): accuracy 0\.763/);
    expect(train.stderr).toContain('train/0/115.png (label 0) = test/1/76.png (label 1)');
    expect(train.stderr).not.toContain('\u001b['); // no bar when stderr is not a terminal
    const model = JSON.parse(readFileSync(out, 'utf8'));
    expect(model).toMatchObject({ format: 'medclass-model', version: 1, labels: ['0', '1'], training: { size: 546, counts: { '0': 147, '1': 399 } } });

    const evaluated = await medclass('evaluate', out, join(BREAST, 'test'), '--json');
    expect(evaluated.code).toBe(0);
    const metrics = JSON.parse(evaluated.stdout);
    expect(Object.keys(metrics)).toEqual(['n', 'labels', 'accuracy', 'balancedAccuracy', 'auc', 'confusion', 'perClass', 'roc']);
    const { n, labels, accuracy, balancedAccuracy, auc, confusion, perClass } = model.metrics.test;
    const { roc, ...rest } = metrics;
    expect(rest).toEqual({ n, labels, accuracy, balancedAccuracy, auc, confusion, perClass });
    // One curve per class from (0, 0) to (1, 1), its AUC the metrics', the operating point the confusion matrix's.
    expect(roc.map((c: { label: string }) => c.label)).toEqual(['0', '1']);
    for (const [c, curve] of roc.entries()) {
      expect(curve.points[0]).toEqual([0, 0]);
      expect(curve.points.at(-1)).toEqual([1, 1]);
      expect(curve.auc).toBeCloseTo(model.metrics.test.aucPerClass[c], 12);
      const other = 1 - c;
      expect(curve.operatingPoint.tpr).toBeCloseTo(confusion[c][c] / (confusion[c][c] + confusion[c][other]), 6);
      expect(curve.operatingPoint.fpr).toBeCloseTo(confusion[other][c] / (confusion[other][c] + confusion[other][other]), 6);
    }
  });

  it('trains on a folder per class with cross-validation, and predict goes on past a bad file', async () => {
    const root = makeDataset('tiny', { a: 15, b: 15 });
    const out = join(tmp, 'tiny.json');
    const train = await medclass('train', root, '--size', '32', '--kernel', 'linear', '--out', out);
    expect(train.code).toBe(0);
    expect(train.stdout).toContain('one folder per class: all of it trains');
    expect(train.stdout).toMatch(/cross-validation \(5-fold on train\/, out-of-fold\): accuracy/);
    expect(train.stdout).toContain('no test/ split');
    writeFileSync(join(tmp, 'broken.png'), 'not an image');
    const image = join(root, 'a', readdirSync(join(root, 'a'))[0]!);
    const predicted = await medclass('predict', out, image, join(tmp, 'broken.png'));
    expect(predicted.code).toBe(1);
    expect(predicted.stdout).toMatch(new RegExp(`${image}\\t[ab]\\ta: 0\\.\\d{4}  b: 0\\.\\d{4}`));
    expect(predicted.stderr).toMatch(/broken\.png: /);
  });

  it('refuses datasets it cannot train on and contradictory options, with a message and status 2', async () => {
    const one = makeDataset('one', { a: 4 });
    const empty = makeDataset('empty', { a: 4, b: 0 });
    const mixed = makeDataset('mixed', { a: 2, train: 2 });
    const runs = await Promise.all([
      medclass('train', one),
      medclass('train', empty),
      medclass('train', mixed),
      medclass('train', join(tmp, 'nowhere')),
      medclass('train', one, '--c', '-1'),
      medclass('train', one, '--auto', '--gamma', '0.1'),
      medclass('train', one, '--classifier', 'knn', '--class-weight', 'balanced'),
    ]);
    const messages = [
      /only one class \('a'\); a classifier needs at least two/,
      /class 'b' has no usable images/,
      /mixes split folders \(train\) with other folders \(a\)/,
      /no such folder/,
      /--c must be a positive number, not '-1'/,
      /--auto chooses C \(and gamma\) itself/,
      /--class-weight applies to the SVM/,
    ];
    runs.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(messages[i]!);
      expect(r.stdout).not.toMatch(/saved/);
    });
  }, 120_000);

  it('follows symbolic links to split and class folders, reading a folder reached twice once', async () => {
    const linked = join(tmp, 'linked');
    mkdirSync(join(linked, 'train', '1'), { recursive: true });
    // a split folder linked in whole, a class folder linked, one holding a link, and a loop
    symlinkSync(join(BREAST, 'val'), join(linked, 'val'));
    symlinkSync(join(BREAST, 'train', '0'), join(linked, 'train', '0'));
    symlinkSync(join(BREAST, 'train', '1'), join(linked, 'train', '1', 'images'));
    symlinkSync(join(linked, 'train', '1'), join(linked, 'train', '1', 'loop'));
    const out = join(tmp, 'linked.json');
    const r = await medclass('train', linked, '--classifier', 'knn', '--size', '0', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/class\s+train\s+val\s+total\n0\s+147\s+21\s+168\n1\s+399\s+57\s+456/);
  });
});

