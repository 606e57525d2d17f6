import { basename } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUTO_FEATURE_SETS, CLASSIFIER_FAMILIES, runSearch, setFeatures, type SearchContext, type SearchPlan } from '../../shared/classify/auto_search.ts';
import { runAutoTask } from '../../shared/classify/auto_task.ts';
import { stratifiedFolds } from '../../shared/classify/cv.ts';
import { featureColumns, restrictSpec } from '../../shared/classify/feature_columns.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import { DEFAULT_SETTINGS } from '../../shared/classify/train.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { splitImages } from '../../test/golden.ts';
import { useCpuBackend } from '../features/backend.ts';
import { chooseThreshold, CNN_MIN_BUDGET_MS, featureSearchBudget, planAuto, planCnn } from './auto_model.ts';
import { extractVectors, type VectorResult } from './vectors.ts';

const ok = (r: VectorResult) => {
  if (!r.ok) throw new Error(r.error);
  return r.vector;
};

describe('--auto: feature sets by column slicing', () => {
  beforeAll(async () => {
    await useCpuBackend();
  });

  it('every candidate set is a column slice of the vector of all the families, bit for bit', async () => {
    const files = splitImages('retinamnist', 'train', 1).slice(0, 3);
    const jobs = files.map((path) => ({ name: basename(path), path }));
    const plan = planAuto(parseFeatureSpec({}), { budgetMs: 1 }, { width: 28, height: 28, colour: true });
    expect(plan.sizes).toEqual([0, 64]);
    // hog2 needs 32 px: every set with it is refused at the kept size, with the reason
    expect(plan.inapplicable(0, AUTO_FEATURE_SETS.find((s) => s.name === 'all')!)).toMatch(/hog2 cannot apply at the kept size \(28x28\)/);
    expect(plan.specs[0]!.features).not.toContain('hog2');
    const superset = plan.specs[1]!;
    const all = (await extractVectors(jobs, superset)).map(ok);
    for (const set of AUTO_FEATURE_SETS) {
      const spec = restrictSpec(superset, setFeatures(set));
      const own = (await extractVectors(jobs, spec)).map(ok);
      const cols = featureColumns(superset, setFeatures(set), 64, 64);
      expect(cols.length).toBe(own[0]!.length);
      own.forEach((v, i) => expect(Float64Array.from(cols, (c) => all[i]![c]!)).toEqual(v));
    }
  });

  it('grey images get no colour sets', () => {
    const plan = planAuto(parseFeatureSpec({}), { budgetMs: 1 }, { width: 28, height: 28, colour: false });
    expect(plan.sets.some((s) => s.families.includes('colour'))).toBe(false);
    expect(plan.specs.every((s) => !s.features.includes('colourHistogram'))).toBe(true);
  });
});

describe('--auto: the threshold', () => {
  it('takes the threshold with the best balanced accuracy, the default on a tie', () => {
    const truth = Int32Array.from([0, 0, 0, 1, 1, 1]);
    // class 1's score; the default 0 gets 4 of 6 right, 0.25 separates them
    const s1 = [-1, 0.1, 0.2, 0.3, 0.9, 1.2];
    const scores = Float64Array.from(s1.flatMap((s) => [-s, s]));
    const t = chooseThreshold(truth, scores, 0);
    expect(t.threshold).toBeCloseTo(0.25, 12);
    expect(t.before).toBeCloseTo(2 / 3, 12);
    expect(t.after).toBe(1);
    const separated = Float64Array.from([-1, -0.5, -0.2, 0.3, 0.9, 1.2].flatMap((s) => [-s, s]));
    expect(chooseThreshold(truth, separated, 0).threshold).toBe(0);
  });
});

describe('--auto: the search', () => {
  it('is deterministic, scores by cross-validation, and says what a budget skipped', async () => {
    await useCpuBackend();
    const files = splitImages('breastmnist', 'train', 20);
    const spec = parseFeatureSpec({ size: 0, features: ['hog', 'hogMean', 'glcmContrast', 'lbp', 'intensityHistogram', 'intensityMoments'], lbp: [{ method: 'uniform', points: 8, radius: 1 }] });
    const vectors = (await extractVectors(files.map((path) => ({ name: basename(path), path })), spec)).map(ok);
    const d = vectors[0]!.length;
    const X = matrix(vectors.length, d, Float64Array.from(vectors.flatMap((v) => Array.from(v))));
    const y = Int32Array.from(files, (f) => (f.includes('/train/1/') ? 1 : 0));
    const sets = [
      { name: 'hog', families: [], features: ['hog' as const] },
      { name: 'texture', families: [], features: ['lbp' as const, 'intensityHistogram' as const, 'intensityMoments' as const] },
    ];
    const plan: SearchPlan = { sizes: [0], sets, inapplicable: () => null, families: CLASSIFIER_FAMILIES, promote: 1 };
    const folds = stratifiedFolds(y, 2, 3, 7);
    const ctx = (budgetMs: number): SearchContext => ({
      k: 2,
      folds,
      y,
      concurrency: 2,
      budgetMs,
      run: async (g, f) => runAutoTask({ X, y, k: 2, columns: featureColumns(spec, sets.find((s) => s.name === g.set)!.features, 28, 28), split: folds[f]!, params: g.params as never, settings: { ...DEFAULT_SETTINGS, params: g.params[0]!, classWeight: 'balanced' } }),
    });
    const a = await runSearch(plan, ctx(Infinity));
    const b = await runSearch(plan, ctx(Infinity));
    expect(a.skipped).toBe(0);
    expect(a.candidates.map((c) => [c.label, c.balancedAccuracy, c.auc])).toEqual(b.candidates.map((c) => [c.label, c.balancedAccuracy, c.auc]));
    expect(a.best).toBe(b.best);
    // rung 1 screens both sets; rung 2 runs the full grids on the better one only
    const rung2 = a.candidates.filter((c) => c.rung === 2);
    expect(new Set(rung2.map((c) => c.set)).size).toBe(1);
    // (KNN only up to as many neighbours as a fold trains on)
    const minTrain = Math.min(...folds.map((f) => f.train.length));
    expect(rung2.length).toBe(CLASSIFIER_FAMILIES.reduce((n, f) => n + f.grid.flat().filter((p) => p.type !== 'knn' || p.k <= minTrain).length, 0));
    expect(rung2.some((c) => c.params?.type === 'knn' && c.params.k > minTrain)).toBe(false);
    const w = a.candidates[a.best]!;
    expect(a.candidates.every((c) => c.status !== 'scored' || c.balancedAccuracy! <= w.balancedAccuracy!)).toBe(true);
    expect(a.reason).toContain('highest cross-validated balanced accuracy');
    expect(a.winnerFolds).toHaveLength(3);

    // Ranked by AUC: the winner has the highest AUC of every scored candidate, and the reason says so.
    const byAuc = await runSearch({ ...plan, rankBy: 'auc' }, ctx(Infinity));
    const wa = byAuc.candidates[byAuc.best]!;
    expect(byAuc.candidates.every((x) => x.status !== 'scored' || (x.auc ?? -1) <= wa.auc!)).toBe(true);
    expect(byAuc.reason).toContain('highest cross-validated AUC');

    // The CNN's size: its best set goes on to rung 2 as well (the ensemble's feature member is tuned there);
    // the same vectors stand for a second size here, so both sizes' best sets tie and size 0 is promoted first.
    const twoSizes = await runSearch({ ...plan, sizes: [0, 64], rankBy: 'auc', alsoPromoteAt: 64 }, ctx(Infinity));
    expect([...new Set(twoSizes.candidates.filter((x) => x.rung === 2).map((x) => `${x.size} ${x.set}`))]).toEqual([`0 ${wa.set}`, `64 ${wa.set}`]);
    expect(twoSizes.promoted.map((p) => p.size)).toEqual([0, 64]);
    const oneSize = await runSearch({ ...plan, sizes: [0, 64], rankBy: 'auc' }, ctx(Infinity));
    expect(oneSize.promoted.map((p) => p.size)).toEqual([0]);

    // No time at all: the first group still runs (a search always has a winner); the rest are skipped, with why.
    const c = await runSearch(plan, ctx(0));
    expect(c.candidates.filter((x) => x.status === 'scored').length).toBe(CLASSIFIER_FAMILIES[0]!.screen[0]!.length);
    expect(c.skipped).toBeGreaterThan(0);
    expect(c.candidates.filter((x) => x.status === 'skipped').every((x) => x.reason === 'not started: the time budget was spent')).toBe(true);
  }, 300_000);
});

describe('--auto: where the CNN joins', () => {
  it('with a budget of 5 minutes or more, at the kept size of small square images (colour planes for colour), else at 64, and says why not', () => {
    const grey = { width: 28, height: 28, colour: false };
    expect(planCnn([0, 64], grey, { budgetMs: CNN_MIN_BUDGET_MS - 1 })).toEqual({ skipped: expect.stringContaining('--budget of 5m or more') });
    expect(planCnn([0, 64], grey, { budgetMs: CNN_MIN_BUDGET_MS, cnn: false })).toEqual({ skipped: expect.stringContaining('--classifier') });
    expect(planCnn([0, 64], grey, { budgetMs: CNN_MIN_BUDGET_MS })).toEqual({ sizeIndex: 0, size: 0, feature: 'pixels' });
    expect(planCnn([0, 64], { ...grey, colour: true }, { budgetMs: 1, cnn: true })).toEqual({ sizeIndex: 0, size: 0, feature: 'colourPixels' });
    expect(planCnn([0, 64], { width: 28, height: 30, colour: false }, { budgetMs: 1, cnn: true })).toEqual({ sizeIndex: 1, size: 64, feature: 'pixels' });
    expect(planCnn([128], { width: 200, height: 200, colour: false }, { budgetMs: 1, cnn: true })).toEqual({ skipped: expect.stringContaining('no size it can take') });
    // its pixels are extracted at its size only
    const plan = planAuto(parseFeatureSpec({}), { budgetMs: 1, cnn: true }, grey);
    expect(plan.specs[0]!.features).toContain('pixels');
    expect(plan.specs[1]!.features).not.toContain('pixels');
    expect(planAuto(parseFeatureSpec({}), { budgetMs: 1 }, grey).specs.every((s) => !s.features.includes('pixels'))).toBe(true);
    // the feature search's share: 40 %, at least the default two minutes
    expect(featureSearchBudget(20 * 60_000)).toBe(8 * 60_000);
    expect(featureSearchBudget(5 * 60_000)).toBe(120_000);
  });
});
