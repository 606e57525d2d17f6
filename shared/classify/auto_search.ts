import { FEATURE_FAMILIES, type FeatureFamily, type FeatureName } from '../features/spec.ts';
import type { Split } from './cv.ts';
import type { Evaluation } from './evaluation.ts';
import { balancedAccuracy, classAucs } from './metrics.ts';
import { paramsLabel, type CandidateParams, type SvmParams } from './params.ts';
import { C_GRID, GAMMA_FACTORS, K_GRID } from './train.ts';

/**
 * --auto's search over feature sets, image sizes, classifiers and their settings, scored by
 * stratified k-fold cross-validation of train (balanced accuracy, then AUC to break ties).
 *
 * It runs in two rungs (successive halving over the feature sets): first every set at every
 * size with a few settings of each classifier, then the full grids on the best sets only.
 * Work goes out in a fixed order and every result lands in its own slot, so the outcome
 * does not depend on which thread finished first: for a seed, a search that is not cut by
 * its budget always picks the same model. A group that would not finish inside the budget
 * is not started, and the report lists it as skipped.
 */

/** A candidate feature set: a union of families (FEATURE_FAMILIES). */
export interface FeatureSetChoice {
  name: string;
  families: FeatureFamily[];
  /** A set of the user's (--features) that is not a union of whole families: these features. */
  features?: FeatureName[];
}

/**
 * The sets tried, simplest first (the first of equal scores wins). Gabor is left out: its
 * filter bank costs 5 to 20 times the rest of the extraction together (docs/features.md 12).
 */
export const AUTO_FEATURE_SETS: readonly FeatureSetChoice[] = [
  { name: 'seven', families: ['hog', 'hogStats', 'glcm'] },
  { name: 'texture', families: ['lbp', 'glcmAngles', 'intensity'] },
  { name: 'seven+lbp', families: ['hog', 'hogStats', 'glcm', 'lbp'] },
  { name: 'seven+glcmAngles', families: ['hog', 'hogStats', 'glcm', 'glcmAngles'] },
  { name: 'seven+intensity', families: ['hog', 'hogStats', 'glcm', 'intensity'] },
  { name: 'hog+texture', families: ['hog', 'lbp', 'glcmAngles', 'intensity'] },
  { name: 'seven+texture', families: ['hog', 'hogStats', 'glcm', 'lbp', 'glcmAngles', 'intensity'] },
  { name: 'all', families: ['hog', 'hogStats', 'glcm', 'hog2', 'lbp', 'glcmAngles', 'intensity'] },
  { name: 'texture+colour', families: ['lbp', 'glcmAngles', 'intensity', 'colour'] },
  { name: 'seven+texture+colour', families: ['hog', 'hogStats', 'glcm', 'lbp', 'glcmAngles', 'intensity', 'colour'] },
  { name: 'all+colour', families: ['hog', 'hogStats', 'glcm', 'hog2', 'lbp', 'glcmAngles', 'intensity', 'colour'] },
];

export const familyFeatures = (families: readonly FeatureFamily[]): FeatureName[] => families.flatMap((f) => [...FEATURE_FAMILIES[f]]);
/** The features of a candidate set. */
export const setFeatures = (set: FeatureSetChoice): FeatureName[] => set.features ?? familyFeatures(set.families);

/**
 * A kind of classifier the search tries on every feature set: a few settings to screen the
 * sets with (rung 1) and its grid for the sets that pass (rung 2), each list cut into
 * groups that share their expensive part (an SVM's kernel matrix per gamma, KNN's distances).
 *
 * A classifier that learns from the images rather than from these vectors (the CNN of the
 * `cnn` branch) joins the comparison as an `ExternalCandidate` instead: it is scored on the
 * same folds by the same measures.
 */
export interface ClassifierFamily {
  name: string;
  screen: CandidateParams[][];
  grid: CandidateParams[][];
}

const rbf = (C: number, scale: number): SvmParams => ({ type: 'svm', kernel: 'rbf', C, gamma: { scale } });
const linear = (C: number): SvmParams => ({ type: 'svm', kernel: 'linear', C, gamma: { scale: 1 } });
const knn = (k: number, metric: 'euclidean' | 'cosine'): CandidateParams => ({ type: 'knn', k, metric, weights: 'uniform' });

export const CLASSIFIER_FAMILIES: readonly ClassifierFamily[] = [
  {
    name: 'SVM (rbf)',
    screen: [[rbf(1, 1), rbf(10, 1)]],
    grid: GAMMA_FACTORS.map((g) => C_GRID.map((C) => rbf(C, g))),
  },
  // Large C on a linear kernel mostly buys iterations: the grid stops at 1.
  { name: 'SVM (linear)', screen: [[linear(0.01)]], grid: [[0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1].map(linear)] },
  {
    name: 'KNN',
    screen: [[knn(5, 'euclidean'), knn(15, 'euclidean'), knn(15, 'cosine')]],
    grid: [[...K_GRID].reverse().flatMap((k) => [knn(k, 'euclidean'), knn(k, 'cosine')])],
  },
];

/** A candidate scored on the folds by someone else's code (a CNN on the images), beside the feature candidates. */
export interface ExternalCandidate {
  label: string;
  /** Evaluations of the fold's test rows, having learnt from its training rows (the same folds as the rest). */
  evaluate(fold: Split, foldIndex: number): Promise<Evaluation>;
}

/** The candidates of one group, run fold by fold (on a worker thread where there are several cores). */
export interface SearchGroup {
  rung: 1 | 2;
  /** The image size (0: kept) and feature set the candidates use, or null for an external candidate. */
  size: number | null;
  set: string | null;
  classifier: string;
  labels: string[];
  params: (CandidateParams | null)[];
}

/** What one group reports for one fold: one evaluation per candidate, of that fold's test rows. */
export interface FoldResult {
  evaluations: Evaluation[];
  /** Binary SVM problems stopped by the tuning iteration cap, per candidate. */
  capped: number[];
  ms: number;
}

export interface CandidateReport {
  rung: 1 | 2;
  size: number | null;
  set: string | null;
  classifier: string;
  label: string;
  params: CandidateParams | null;
  status: 'scored' | 'skipped';
  /** Why it was skipped (the budget, a family that cannot apply at that size). */
  reason?: string;
  /** Mean over folds. */
  balancedAccuracy: number | null;
  auc: number | null;
  folds: number[];
  capped: number;
  /** Thread time its group took, shared among the group's candidates. */
  ms: number;
}

export interface SearchOutcome {
  candidates: CandidateReport[];
  /** Index into candidates of the winner. */
  best: number;
  /** The feature sets (with sizes) that went on to rung 2, best first. */
  promoted: { size: number; set: string; balancedAccuracy: number; auc: number | null }[];
  skipped: number;
  /** Wall time of the search. */
  ms: number;
  /** Why the winner won, in words. */
  reason: string;
  /** The winner's out-of-fold evaluations, per fold. */
  winnerFolds: Evaluation[];
}

export interface SearchPlan {
  sizes: number[];
  sets: FeatureSetChoice[];
  /** Per size, the sets that cannot apply there, and why (a family too large for the image, colour on grey images). */
  inapplicable: (size: number, set: FeatureSetChoice) => string | null;
  families: readonly ClassifierFamily[];
  external?: ExternalCandidate[];
  /** How many (size, set) pairs go on to rung 2. */
  promote?: number;
  /**
   * A size whose best pair goes on to rung 2 as well, if none of that size is among the
   * promoted: the CNN's, where the ensemble's feature member comes from, so that the member
   * is tuned as far as the winner is.
   */
  alsoPromoteAt?: number | undefined;
  /** What ranks the candidates (balanced accuracy by default). */
  rankBy?: RankBy;
}

export interface SearchContext {
  k: number;
  /** The folds, over the rows whose labels are `y`. */
  folds: Split[];
  y: Int32Array;
  /** Runs one group on one fold (on a worker thread in the server). */
  run(group: SearchGroup, fold: number): Promise<FoldResult>;
  /** How many group folds may run at once (the worker threads). */
  concurrency: number;
  /** Milliseconds left for the search at its start; Infinity: no limit. */
  budgetMs: number;
  now?: () => number;
  progress?: (done: number, total: number) => void;
  /**
   * Milliseconds to keep for what follows the search, given the slowest fit seen so far (ms
   * per candidate per fold): a group only starts if it ends before the budget less this.
   */
  reserveMs?: (slowestFitMs: number) => number;
}

type Scored = { balancedAccuracy: number | null; auc: number | null };

/** What ranks candidates: balanced accuracy then AUC (the default), or AUC then balanced accuracy. */
export type RankBy = 'balanced' | 'auc';

/** Whether a ranks before b: the first measure higher, or equal and the second higher; the earlier candidate on a tie. */
export function rankedBefore(by: RankBy): (a: Scored, b: Scored) => boolean {
  const first = (s: Scored) => (by === 'auc' ? s.auc : s.balancedAccuracy) ?? -1;
  const second = (s: Scored) => (by === 'auc' ? s.balancedAccuracy : s.auc) ?? -1;
  return (a, b) => (first(a) !== first(b) ? first(a) > first(b) : second(a) > second(b));
}

const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** Runs the plan; the result lists every candidate, scored or skipped, in the order tried. */
export async function runSearch(plan: SearchPlan, ctx: SearchContext): Promise<SearchOutcome> {
  const better = rankedBefore(plan.rankBy ?? 'balanced');
  const now = ctx.now ?? (() => performance.now());
  const started = now();
  const deadline = started + ctx.budgetMs;
  const nFolds = ctx.folds.length;
  const truth = ctx.folds.map((f) => Int32Array.from(f.test, (i) => ctx.y[i]!));
  const candidates: CandidateReport[] = [];
  const foldEvals = new Map<number, Evaluation[]>();
  /** ms per fold per candidate, by classifier and size: what the next group will cost. */
  const cost = new Map<string, { ms: number; n: number }>();
  const costKey = (g: SearchGroup) => `${g.classifier}|${g.size}`;

  // KNN cannot ask for more neighbours than a fold trains on (a small dataset)
  const minTrain = Math.min(...ctx.folds.map((f) => f.train.length));
  const fits = (p: CandidateParams) => p.type !== 'knn' || p.k <= minTrain;
  const plannedGroups = (rung: 1 | 2, pairs: { size: number; set: FeatureSetChoice }[]): SearchGroup[] =>
    pairs.flatMap(({ size, set }) =>
      plan.families.flatMap((fam) =>
        (rung === 1 ? fam.screen : fam.grid)
          .map((list) => list.filter(fits))
          .filter((params) => params.length > 0)
          .map((params) => ({ rung, size, set: set.name, classifier: fam.name, labels: params.map(paramsLabel), params })),
      ),
    );
  const allPairs = plan.sizes.flatMap((size) => plan.sets.map((set) => ({ size, set })));
  let total = 0;
  let done = 0;
  let groupsStarted = 0;
  let slowest = 0;

  /** Runs groups, `concurrency` folds at a time, in order; a group is only started if its estimate fits the time left. */
  async function runGroups(groups: SearchGroup[]): Promise<void> {
    total += groups.length * nFolds;
    ctx.progress?.(done, total);
    const queue: { g: SearchGroup; slot: number; f: number }[] = [];
    const results = new Map<number, FoldResult[]>();
    const slots: number[] = [];
    for (const g of groups) {
      const base = candidates.length;
      slots.push(base);
      for (let c = 0; c < g.labels.length; c++) {
        candidates.push({
          rung: g.rung,
          size: g.size,
          set: g.set,
          classifier: g.classifier,
          label: g.labels[c]!,
          params: g.params[c] ?? null,
          status: 'skipped',
          balancedAccuracy: null,
          auc: null,
          folds: [],
          capped: 0,
          ms: 0,
        });
      }
    }
    const started = new Set<number>();
    const startedBefore = groupsStarted;
    const skipped = new Set<number>();
    groups.forEach((g, gi) => {
      for (let f = 0; f < nFolds; f++) queue.push({ g, slot: gi, f });
    });
    const estimate = (g: SearchGroup): number => {
      const c = cost.get(costKey(g));
      const per = c ? c.ms / c.n : 0;
      // all folds spread over the threads
      return (per * g.labels.length * nFolds) / Math.max(1, Math.min(ctx.concurrency, nFolds));
    };
    let next = 0;
    const worker = async () => {
      while (next < queue.length) {
        const item = queue[next++]!;
        const gi = item.slot;
        if (skipped.has(gi)) {
          done++;
          continue;
        }
        if (!started.has(gi)) {
          // the very first group runs whatever the clock says: a search always has a winner
          if (started.size + startedBefore > 0 && now() + estimate(item.g) > deadline - (ctx.reserveMs?.(slowest) ?? 0)) {
            skipped.add(gi);
            done++;
            continue;
          }
          started.add(gi);
        }
        const r = await ctx.run(item.g, item.f);
        const list = results.get(gi) ?? new Array<FoldResult>(nFolds);
        list[item.f] = r;
        results.set(gi, list);
        slowest = Math.max(slowest, r.ms / item.g.labels.length);
        const c = cost.get(costKey(item.g)) ?? { ms: 0, n: 0 };
        cost.set(costKey(item.g), { ms: c.ms + r.ms, n: c.n + item.g.labels.length });
        ctx.progress?.(++done, total);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, ctx.concurrency) }, worker));
    groupsStarted += started.size;
    groups.forEach((g, gi) => {
      const list = results.get(gi);
      const base = slots[gi]!;
      if (!list) {
        for (let c = 0; c < g.labels.length; c++) candidates[base + c]!.reason = 'not started: the time budget was spent';
        return;
      }
      const ms = list.reduce((a, r) => a + r.ms, 0);
      for (let c = 0; c < g.labels.length; c++) {
        const evals = list.map((r) => r.evaluations[c]!);
        const folds = evals.map((e, f) => balancedAccuracy(truth[f]!, e.predicted, ctx.k));
        const aucs = evals.map((e, f) => classAucs(truth[f]!, e.scores, ctx.k).auc).filter((a): a is number => a !== null);
        Object.assign(candidates[base + c]!, {
          status: 'scored',
          balancedAccuracy: folds.reduce((a, b) => a + b, 0) / folds.length,
          auc: aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null,
          folds,
          capped: list.reduce((a, r) => a + (r.capped[c] ?? 0), 0),
          ms: ms / g.labels.length,
        });
        foldEvals.set(base + c, evals);
      }
    });
  }

  // Rung 1: every applicable (size, set) pair, screened.
  const pairs: { size: number; set: FeatureSetChoice }[] = [];
  for (const p of allPairs) {
    const why = plan.inapplicable(p.size, p.set);
    if (why === null) pairs.push(p);
    else {
      candidates.push({ rung: 1, size: p.size, set: p.set.name, classifier: '-', label: '-', params: null, status: 'skipped', reason: why, balancedAccuracy: null, auc: null, folds: [], capped: 0, ms: 0 });
    }
  }
  await runGroups(plannedGroups(1, pairs));

  // The pairs ranked by their best screened candidate.
  const pairBest = pairs
    .map((p, order) => {
      let best: CandidateReport | null = null;
      for (const c of candidates) if (c.status === 'scored' && c.size === p.size && c.set === p.set.name && (!best || better(c, best))) best = c;
      return { ...p, order, best };
    })
    .filter((p): p is typeof p & { best: CandidateReport } => p.best !== null)
    .sort((a, b) => (better(a.best, b.best) ? -1 : better(b.best, a.best) ? 1 : a.order - b.order));
  const nPromote = plan.promote ?? Math.max(2, Math.min(4, Math.ceil(pairs.length / 4)));
  const promoted = pairBest.slice(0, nPromote);
  if (plan.alsoPromoteAt !== undefined && !promoted.some((p) => p.size === plan.alsoPromoteAt)) {
    const there = pairBest.find((p) => p.size === plan.alsoPromoteAt);
    if (there) promoted.push(there);
  }

  // Rung 2: the full grids on the promoted sets, best set first.
  await runGroups(plannedGroups(2, promoted));

  // External candidates (a CNN) on the same folds, if the time allows.
  for (const ext of plan.external ?? []) {
    const slot = candidates.length;
    candidates.push({ rung: 2, size: null, set: null, classifier: ext.label, label: ext.label, params: null, status: 'skipped', reason: 'not started: the time budget was spent', balancedAccuracy: null, auc: null, folds: [], capped: 0, ms: 0 });
    if (now() >= deadline) continue;
    const t = now();
    const evals = await Promise.all(ctx.folds.map((f, i) => ext.evaluate(f, i)));
    const folds = evals.map((e, f) => balancedAccuracy(truth[f]!, e.predicted, ctx.k));
    const aucs = evals.map((e, f) => classAucs(truth[f]!, e.scores, ctx.k).auc).filter((a): a is number => a !== null);
    Object.assign(candidates[slot]!, {
      status: 'scored',
      reason: undefined,
      balancedAccuracy: folds.reduce((a, b) => a + b, 0) / folds.length,
      auc: aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null,
      folds,
      ms: now() - t,
    });
    foldEvals.set(slot, evals);
  }

  let best = -1;
  candidates.forEach((c, i) => {
    if (c.status === 'scored' && (best < 0 || better(c, candidates[best]!))) best = i;
  });
  if (best < 0) throw new Error('the time budget ended before any candidate was scored; give a larger --budget');
  const w = candidates[best]!;
  const runnerUp = candidates.filter((c, i) => i !== best && c.status === 'scored' && !(c.size === w.size && c.set === w.set && c.classifier === w.classifier)).sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))[0];
  const byAuc = plan.rankBy === 'auc';
  const tie = runnerUp && (byAuc ? runnerUp.auc === w.auc : runnerUp.balancedAccuracy === w.balancedAccuracy);
  const reason =
    (byAuc
      ? `highest cross-validated AUC (${fmt(w.auc)}, balanced accuracy ${fmt(w.balancedAccuracy)})`
      : `highest cross-validated balanced accuracy (${fmt(w.balancedAccuracy)}, AUC ${fmt(w.auc)})`) +
    ` of ${candidates.filter((c) => c.status === 'scored').length} scored candidates` +
    (runnerUp
      ? tie
        ? byAuc
          ? `; tied on AUC with ${describe(runnerUp)}, ahead on balanced accuracy (${fmt(runnerUp.balancedAccuracy)})`
          : `; tied on balanced accuracy with ${describe(runnerUp)}, ahead on AUC (${fmt(runnerUp.auc)})`
        : `; the best other kind was ${describe(runnerUp)} at ${fmt(runnerUp.balancedAccuracy)} (AUC ${fmt(runnerUp.auc)})`
      : '');
  return {
    candidates,
    best,
    promoted: promoted.map((p) => ({ size: p.size, set: p.set.name, balancedAccuracy: p.best.balancedAccuracy!, auc: p.best.auc })),
    skipped: candidates.filter((c) => c.status === 'skipped').length,
    ms: now() - started,
    reason,
    winnerFolds: foldEvals.get(best)!,
  };
}

/** A candidate's classifier and settings in words: "SVM rbf C=1 gamma=scale", "KNN k=5 euclidean". */
export const candidateName = (c: { label: string; classifier: string }): string => (c.classifier.startsWith('SVM') ? `SVM ${c.label}` : c.classifier === 'KNN' ? `KNN ${c.label}` : c.label);

/** A candidate in words: set, size, classifier and settings. */
export function describe(c: { size: number | null; set: string | null; label: string; classifier: string }): string {
  if (c.size === null) return c.label;
  return `${c.set} at ${c.size === 0 ? 'kept size' : `${c.size} px`}, ${candidateName(c)}`;
}

