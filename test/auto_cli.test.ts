import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { medclass } from './classify_data.ts';
import { dataset, type DatasetName } from './golden.ts';

const tmp = mkdtempSync(join(tmpdir(), 'medclass-auto-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A folder per class, 12 BreastMNIST training images each (made once). */
function tiny(): string {
  const root = join(tmp, 'tiny');
  if (existsSync(root)) return root;
  for (const [label, from] of [['a', '0'], ['b', '1']] as const) {
    mkdirSync(join(root, label), { recursive: true });
    const source = join(dataset('breastmnist'), 'train', from);
    for (const f of readdirSync(source).sort().slice(0, 12)) cpSync(join(source, f), join(root, label, f));
  }
  return root;
}

/**
 * `train --auto` on both MedMNIST sets with a small budget (one size, to keep the box's two
 * cores for the others): the report says what was tried and why the winner won, the model
 * file keeps the search and the operating point, and `evaluate` gives back the test metrics.
 */
describe('medclass train --auto chooses the features too', () => {
  it.each(['breastmnist', 'retinamnist'] as DatasetName[])('%s: within a small budget, with what it tried and why', async (name) => {
    const out = join(tmp, `${name}.json`);
    const train = await medclass('train', dataset(name), '--auto', '--budget', '20s', '--size', '0', '--jobs', '2', '--out', out);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/--auto: \d+ candidates scored by 5-fold cross-validation of train\/ in [\d.]+ s on 2 thread\(s\), budget 20 s/);
    expect(train.stdout).toMatch(/size\s+feature set\s+best candidate\s+CV bal\. acc\.\s+CV AUC\s+scored\s+time/);
    expect(train.stdout).toMatch(/kept\s+seven\s+SVM rbf C=/);
    // ranked by AUC first unless --rank-by balanced says otherwise
    expect(train.stdout).toMatch(/chosen: .+: highest cross-validated AUC \(0\.\d{3}, balanced accuracy 0\.\d{3}\) of \d+ scored candidates/);
    expect(train.stdout).toMatch(/test \(test\/, \d+ images, scored once\)/);
    const model = JSON.parse(readFileSync(out, 'utf8'));
    const auto = model.training.auto;
    expect(auto).toMatchObject({ budgetMs: 20_000, threads: 2, folds: 5, sizes: [0] });
    // everything planned is accounted for: scored, or skipped with a reason
    const rows = auto.featureSets as { scored: number; skipped: number; reason?: string }[];
    expect(rows.reduce((n, r) => n + r.scored, 0)).toBe(auto.scored);
    expect(model.training.selection.candidates).toHaveLength(auto.scored);
    expect(auto.reason).toMatch(/^highest cross-validated AUC/);
    expect(auto.rankBy).toBe('AUC, then balanced accuracy');
    if (name === 'retinamnist') {
      expect(auto.sets.map((s: { name: string }) => s.name)).toContain('texture+colour');
      expect(auto.threshold).toEqual({ value: null, note: '5 classes: the highest score decides' });
    } else {
      expect(auto.sets.map((s: { name: string }) => s.name)).not.toContain('texture+colour');
      expect(auto.threshold).toMatchObject({ on: 'validation', by: 'balanced accuracy', default: 0 });
      expect(auto.classWeight.compared).toHaveLength(2);
      // the file keeps the threshold exactly when it moved from the classifier's own
      expect(model.decision?.threshold ?? 0).toBe(auto.threshold.value);
    }

    const evaluated = await medclass('evaluate', out, join(dataset(name), 'test'), '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const metrics = JSON.parse(evaluated.stdout);
    expect(metrics.accuracy).toBe(model.metrics.test.accuracy);
    expect(metrics.auc).toBe(model.metrics.test.auc);
    expect(metrics.roc).toHaveLength(model.labels.length);
  }, 600_000);

  it('a small folder per class (no val, no test): choices out of fold, never more neighbours than a fold has', async () => {
    const root = tiny();
    const out = join(tmp, 'tiny.json');
    const train = await medclass('train', root, '--auto', '--budget', '10s', '--size', '32', '--out', out);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toContain('no test/ split');
    const model = JSON.parse(readFileSync(out, 'utf8'));
    expect(model.training.auto.classWeight.on).toBe('cross-validation');
    // 24 images, 5 folds: at most 20 train in a fold
    for (const c of model.training.selection.candidates) if (c.params.type === 'knn') expect(c.params.k).toBeLessThanOrEqual(19);
  }, 300_000);

  it('cross-validation without --auto runs its folds on worker threads and estimates exactly what one thread does', async () => {
    const root = tiny();
    const one = join(tmp, 'cv-1.json');
    const two = join(tmp, 'cv-2.json');
    expect((await medclass('train', root, '--size', '32', '--jobs', '1', '--out', one)).code).toBe(0);
    expect((await medclass('train', root, '--size', '32', '--jobs', '2', '--out', two)).code).toBe(0);
    const a = JSON.parse(readFileSync(one, 'utf8'));
    const b = JSON.parse(readFileSync(two, 'utf8'));
    expect(b.metrics.estimate).toEqual(a.metrics.estimate);
    expect(b.classifier).toEqual(a.classifier);
    expect(a.metrics.estimate.mode).toBe('cross-validation');
  }, 300_000);

  it('refuses --budget without --auto, and a budget it cannot read', async () => {
    const r = await medclass('train', dataset('breastmnist'), '--budget', '10s');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--budget is the time --auto may take');
    const r2 = await medclass('train', dataset('breastmnist'), '--auto', '--budget', 'soon');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("--budget must be a time of at least 1s, such as 120s or 2m, not 'soon'");
  }, 120_000);
});
