import { availableParallelism } from 'node:os';
import { AUTO_FEATURE_SETS, CLASSIFIER_FAMILIES, candidateName, describe, familyFeatures, runSearch, setFeatures, type CandidateReport, type ExternalCandidate, type FeatureSetChoice, type FoldResult, rankedBefore, type RankBy, type SearchGroup, type SearchOutcome } from '../../shared/classify/auto_search.ts';
import type { AutoTask } from '../../shared/classify/auto_task.ts';
import { stratifiedFolds, type Split } from '../../shared/classify/cv.ts';
import type { Evaluation } from '../../shared/classify/evaluation.ts';
import { featureColumns, restrictSpec } from '../../shared/classify/feature_columns.ts';
import { matrix, type Matrix } from '../../shared/classify/linalg.ts';
import { accuracy, balancedAccuracy, classAucs, computeMetrics } from '../../shared/classify/metrics.ts';
import { applyThreshold } from '../../shared/classify/classifier.ts';
import { rocCurves } from '../../shared/classify/roc.ts';
import type { AutoSummary, JsonValue, Preset, Stage, TrainSettings } from '../../shared/classify/train.ts';
import type { MedclassError } from '../../shared/errors.ts';
import { checkExtractable } from '../../shared/features/extract.ts';
import { FEATURE_FAMILIES, FEATURE_NAMES, type FeatureFamily, type FeatureName, type FeatureSpec } from '../../shared/features/spec.ts';
import type { CnnParams } from '../../shared/classify/params.ts';
import { workerModule } from '../features/worker_url.ts';

/**
 * --auto with the features: every family extracted once per candidate size, the candidate
 * sets assembled by column slicing, compared by cross-validation of train on worker
 * threads (shared/classify/auto_search.ts), then the class weights and (two classes) the
 * decision threshold chosen on val, all inside a time budget.
 */

/** The budget when none is given: two minutes for the whole training. */
export const DEFAULT_BUDGET_MS = 120_000;

export interface AutoOptions {
  /** Wall-clock milliseconds for the whole training, extraction included. */
  budgetMs: number;
  /** The sizes to try (the user's --size); by default the kept size and 64 for small images, 64 and 128 for larger ones. */
  sizes?: number[] | undefined;
  /** The feature sets to try (the user's --features: that one set); by default AUTO_FEATURE_SETS. */
  sets?: FeatureSetChoice[] | undefined;
  /** Worker threads for the search (one per core by default). */
  threads?: number | undefined;
  /** Candidates scored by other code on the same folds (a CNN). */
  external?: ExternalCandidate[] | undefined;
  /** The classifier families to try (names of CLASSIFIER_FAMILIES); all by default. */
  classifiers?: string[] | undefined;
  /** Class weights fixed by the user; otherwise chosen on val. */
  classWeight?: 'balanced' | null | undefined;
  /**
   * What the class weights and the threshold are chosen for on val: balanced accuracy (the
   * default, every class counts alike) or plain accuracy (the measure of MedMNIST's tables).
   */
  operatingPoint?: 'balanced' | 'accuracy' | undefined;
  /**
   * The CNN (and its ensemble with the best feature model) as finalists (out of fold on train/): false never,
   * true always, absent when the budget is CNN_MIN_BUDGET_MS or more (server/training/auto_cnn.ts).
   */
  cnn?: boolean | undefined;
  /** The CNN's settings (AUTO_CNN_PARAMS of auto_cnn.ts by default). */
  cnnParams?: CnnParams | undefined;
  /** The most CNNs trained (one per fold of train/, their probabilities averaged); 5 by default, fewer where the budget ends first. */
  cnnMembers?: number | undefined;
  /** What ranks the search's candidates and the finalists: AUC then balanced accuracy (DEFAULT_RANK_BY), or balanced accuracy first. */
  rankBy?: RankBy | undefined;
}

/**
 * What ranks candidates and finalists where --rank-by is not given: AUC first, the
 * threshold-free measure (balanced accuracy on a 78-image val/ moved with a threshold fitted
 * to it; RetinaMNIST met both issues' goals only with AUC first).
 */
export const DEFAULT_RANK_BY: RankBy = 'auc';

/** Below this budget the CNN is not tried: on this project's 2-core server one epoch of 500 28x28 images takes about 40 s. */
export const CNN_MIN_BUDGET_MS = 5 * 60_000;
/** With the CNN in the running, the feature search's share of the budget (at least the default two minutes). */
export const FEATURE_SHARE_WITH_CNN = 0.4;

/** The CNN's place in the search: at which of the plan's sizes, on which pixels. */
export interface CnnPlan {
  sizeIndex: number;
  size: number;
  feature: Extract<FeatureName, 'pixels' | 'colourPixels'>;
}

/** Whether the CNN joins --auto (and where), or why not. */
export function planCnn(sizes: readonly number[], probe: ImageProbe, options: AutoOptions): CnnPlan | { skipped: string } {
  if (options.cnn === false) return { skipped: 'not asked for (--classifier names another)' };
  if (options.cnn === undefined && options.budgetMs < CNN_MIN_BUDGET_MS) {
    return { skipped: `it trains for minutes on a CPU server: it joins --auto with a --budget of ${CNN_MIN_BUDGET_MS / 60_000}m or more` };
  }
  const side = Math.max(probe.width, probe.height);
  const kept = sizes.indexOf(0);
  // The kept size where the images are square and small (the network is sized for 28 to 64 px); else 64 if tried.
  const sizeIndex = kept >= 0 && probe.width === probe.height && side >= 16 && side <= 64 ? kept : sizes.indexOf(64);
  if (sizeIndex < 0) return { skipped: `no size it can take among those tried (${sizes.join(', ')}): it takes square images of 16 to 64 px here` };
  return { sizeIndex, size: sizes[sizeIndex]!, feature: probe.colour ? 'colourPixels' : 'pixels' };
}

/** The feature search's budget when the CNN follows it. */
export const featureSearchBudget = (totalMs: number): number => Math.min(totalMs, Math.max(120_000, totalMs * FEATURE_SHARE_WITH_CNN));

/** The families' parameters --auto uses: uniform LBP at (8, 1) and (16, 2), GLCM at distances 1 to 3; the HOG settings are the user's. */
export function autoBaseSpec(spec: FeatureSpec): FeatureSpec {
  return {
    ...spec,
    lbp: [
      { method: 'uniform', points: 8, radius: 1 },
      { method: 'uniform', points: 16, radius: 2 },
    ],
    glcmDistances: [1, 2, 3],
  };
}

/** The first training image's size and whether it has colour: what decides which sizes and families apply. */
export interface ImageProbe {
  width: number;
  height: number;
  colour: boolean;
}

export interface AutoPlan {
  sizes: number[];
  sets: FeatureSetChoice[];
  /** Per size: every family some set uses that applies there, as one spec to extract. */
  specs: FeatureSpec[];
  inapplicable(size: number, set: FeatureSetChoice): string | null;
  /** Where the CNN joins (its pixels extracted at that size), or why it does not. */
  cnn: CnnPlan | { skipped: string };
}

/** What will be extracted and tried, from the options and the first image. */
export function planAuto(spec: FeatureSpec, options: AutoOptions, probe: ImageProbe): AutoPlan {
  const base = autoBaseSpec(spec);
  const side = Math.max(probe.width, probe.height);
  const sizes = options.sizes ?? (side <= 96 ? [0, 64] : [64, 128]);
  const sets = (options.sets ?? AUTO_FEATURE_SETS).filter((s) => probe.colour || !s.families.includes('colour'));
  // A set of the user's is checked as one family of its own.
  const families = [...new Set(sets.flatMap((s) => s.families))];
  const own = sets.flatMap((s) => s.features ?? []);
  const why = (size: number, f: FeatureFamily): string | null => {
    const w = size || probe.width;
    const h = size || probe.height;
    try {
      checkExtractable({ ...base, size, features: [...FEATURE_FAMILIES[f]] }, w, h, probe.colour);
      return null;
    } catch (e) {
      // the short reason for the tables; the extraction's own message says the rest
      return `${f} cannot apply at ${size === 0 ? `the kept size (${w}x${h})` : `size ${size}`}${(e as MedclassError).code === 'notColour' ? ' (grey images)' : ''}`;
    }
  };
  const cnn = planCnn(sizes, probe, options);
  const specs = sizes.map((size, i) => {
    const ok = families.filter((f) => why(size, f) === null);
    const wanted: FeatureName[] = [...familyFeatures(ok), ...own, ...('feature' in cnn && cnn.sizeIndex === i ? [cnn.feature] : [])];
    return { ...base, size, features: FEATURE_NAMES.filter((f) => wanted.includes(f)) };
  });
  const whyOwn = (size: number, set: FeatureSetChoice): string | null => {
    const w = size || probe.width;
    const h = size || probe.height;
    try {
      checkExtractable({ ...base, size, features: set.features! }, w, h, probe.colour);
      return null;
    } catch (e) {
      return `${set.name} cannot apply at ${size === 0 ? `the kept size (${w}x${h})` : `size ${size}`}: ${(e as Error).message}`;
    }
  };
  return {
    sizes,
    sets,
    specs,
    cnn,
    inapplicable: (size, set) => {
      if (set.features) return whyOwn(size, set);
      for (const f of set.families) {
        const w = why(size, f);
        if (w) return w;
      }
      return null;
    },
  };
}

export interface AutoInput {
  labels: string[];
  plan: AutoPlan;
  /** Per size: the decoded size of the vectors (the kept size at 0). */
  dims: { height: number; width: number }[];
  /** Per size: every training row, then every validation row, with all the size's columns. */
  X: Matrix[];
  /** Train then val. */
  y: Int32Array;
  nTrain: number;
  nVal: number;
  settings: TrainSettings;
  /** Milliseconds left of the budget (the final fit included). */
  budgetMs: number;
  options: AutoOptions;
  signal?: AbortSignal | undefined;
  progress?: (stage: Stage, done: number, total: number) => void;
}

export interface AutoChoice {
  sizeIndex: number;
  /** The winner's spec: its size and its features only. */
  spec: FeatureSpec;
  columns: Int32Array;
  /** The final fit's settings: the winner's parameters, class weights and threshold. */
  settings: TrainSettings;
  preset: Preset;
  search: SearchOutcome;
}

/** Part of the budget kept for the class weights, the threshold and the final fit, at least. */
const FINAL_SHARE = 0.1;
/** What follows the search, in fits of the slowest candidate seen: 2 for the class weights, 2 for the final fit, 5 for its Platt folds. */
const FINAL_FITS = 9;

/** Copies onto shared memory: the worker threads read the matrix without a copy each. */
function shared(m: Matrix): Matrix {
  const data = new Float64Array(new SharedArrayBuffer(m.data.byteLength));
  data.set(m.data);
  return matrix(m.rows, m.cols, data);
}

const r3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);

/** Pools per-fold evaluations into one (rows in fold order) with their truth. */
export function pool(folds: Split[], evals: Evaluation[], y: Int32Array, k: number): { truth: Int32Array; e: Evaluation } {
  const rows = folds.flatMap((f) => Array.from(f.test));
  const predicted = new Int32Array(rows.length);
  const scores = new Float64Array(rows.length * k);
  let o = 0;
  folds.forEach((f, i) => {
    predicted.set(evals[i]!.predicted, o);
    scores.set(evals[i]!.scores, o * k);
    o += f.test.length;
  });
  return { truth: Int32Array.from(rows, (i) => y[i]!), e: { k, predicted, scores, probabilities: null } };
}

/**
 * The threshold on class 1's score with the highest balanced accuracy (the default rule's
 * threshold on a tie, then the nearest to it): midpoints between distinct scores.
 */
export function chooseThreshold(
  truth: Int32Array,
  scores: Float64Array,
  fallback: number,
  measure: (truth: Int32Array, predicted: Int32Array) => number = (t, p) => balancedAccuracy(t, p, 2),
): { threshold: number; before: number; after: number } {
  const m = truth.length;
  const s1 = Array.from({ length: m }, (_, i) => scores[i * 2 + 1]!);
  const distinct = [...new Set(s1)].sort((a, b) => a - b);
  const cuts = [fallback];
  for (let i = 0; i + 1 < distinct.length; i++) cuts.push((distinct[i]! + distinct[i + 1]!) / 2);
  const score = (t: number) => measure(truth, applyThreshold(scores, t));
  const before = score(fallback);
  let best = fallback;
  let bestScore = before;
  for (const t of cuts) {
    const v = score(t);
    if (v > bestScore + 1e-12 || (Math.abs(v - bestScore) <= 1e-12 && Math.abs(t - fallback) < Math.abs(best - fallback))) {
      best = t;
      bestScore = v;
    }
  }
  return { threshold: best, before, after: bestScore };
}

/** Runs the search on worker threads and makes the choices the final fit needs. */
export async function chooseModel(input: AutoInput): Promise<AutoChoice> {
  const started = performance.now();
  const { labels, plan, settings, options } = input;
  const k = labels.length;
  const threads = Math.max(1, options.threads ?? availableParallelism());
  const yTrain = input.y.subarray(0, input.nTrain);
  const folds = stratifiedFolds(yTrain, k, settings.folds, settings.seed);
  const X = input.X.map(shared);
  const y = Int32Array.from(input.y);
  const columnCache = new Map<string, Int32Array>();
  const columns = (sizeIndex: number, setName: string): Int32Array => {
    const key = `${sizeIndex}|${setName}`;
    let c = columnCache.get(key);
    if (!c) {
      const set = plan.sets.find((s) => s.name === setName)!;
      const d = input.dims[sizeIndex]!;
      c = featureColumns(plan.specs[sizeIndex]!, setFeatures(set), d.height, d.width);
      columnCache.set(key, c);
    }
    return c;
  };
  // The search compares with balanced class weights (its measure is balanced accuracy); val then decides.
  const searchSettings: TrainSettings = { ...settings, classWeight: 'balanced', probability: false };
  const [{ Piscina }] = await Promise.all([import('piscina')]);
  const { filename, execArgv } = workerModule('./auto.worker', import.meta.url);
  const workers = new Piscina({ filename, execArgv, minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
  const runTask = async (task: AutoTask): Promise<FoldResult> => (await workers.run(task, input.signal ? { signal: input.signal } : {})) as FoldResult;
  const taskFor = (sizeIndex: number, setName: string, split: Split, params: AutoTask['params'], s: TrainSettings): AutoTask => ({
    X: X[sizeIndex]!,
    y,
    k,
    columns: columns(sizeIndex, setName),
    split,
    params,
    settings: s,
  });
  try {
    const search = await runSearch(
      { sizes: plan.sizes, sets: plan.sets, inapplicable: plan.inapplicable, families: CLASSIFIER_FAMILIES.filter((f) => !options.classifiers || options.classifiers.includes(f.name)), ...(options.external ? { external: options.external } : {}), rankBy: options.rankBy ?? DEFAULT_RANK_BY, alsoPromoteAt: 'size' in plan.cnn ? plan.cnn.size : undefined },
      {
        k,
        folds,
        y: yTrain,
        concurrency: threads,
        budgetMs: Math.max(0, input.budgetMs * (1 - FINAL_SHARE) - (performance.now() - started)),
        // after the search: the class-weight fits (in parallel), the final fit and its five Platt fits, each about a fold's fit or more
        reserveMs: (slowest) => FINAL_FITS * slowest,
        run: (g: SearchGroup, f: number) => runTask(taskFor(plan.sizes.indexOf(g.size!), g.set!, folds[f]!, g.params as AutoTask['params'], searchSettings)),
        ...(input.progress ? { progress: (d: number, t: number) => input.progress!('tuning', d, t) } : {}),
      },
    );
    const w = search.candidates[search.best]!;
    if (w.size === null || w.params === null) throw new Error('an external candidate won: its fit is not part of this branch yet');
    const sizeIndex = plan.sizes.indexOf(w.size);
    const params = w.params;

    // Class weights, then (two classes) the threshold: on val, or out-of-fold where there is no val.
    const onVal = input.nVal > 0;
    const by = options.operatingPoint ?? 'balanced';
    const measure = (t: Int32Array, p: Int32Array) => (by === 'accuracy' ? accuracy(t, p) : balancedAccuracy(t, p, k));
    const holdout: Split[] = onVal
      ? [{ train: Int32Array.from({ length: input.nTrain }, (_, i) => i), test: Int32Array.from({ length: input.nVal }, (_, i) => input.nTrain + i) }]
      : folds;
    const weights: ('balanced' | null)[] = params.type !== 'svm' ? [null] : options.classWeight !== undefined ? [options.classWeight] : ['balanced', null];
    const tried = await Promise.all(
      weights.map(async (cw) => {
        const s = { ...searchSettings, classWeight: cw };
        const evals = onVal || cw !== 'balanced' ? (await Promise.all(holdout.map((split) => runTask(taskFor(sizeIndex, w.set!, split, [params], s))))).map((r) => r.evaluations[0]!) : search.winnerFolds;
        const pooled = pool(holdout, evals, y, k);
        return { classWeight: cw, pooled, score: measure(pooled.truth, pooled.e.predicted), auc: classAucs(pooled.truth, pooled.e.scores, k).auc };
      }),
    );
    let chosen = tried[0]!;
    for (const t of tried.slice(1)) if (t.score > chosen.score || (t.score === chosen.score && (t.auc ?? -1) > (chosen.auc ?? -1))) chosen = t;
    let threshold: ReturnType<typeof chooseThreshold> | null = null;
    // The classifier's own rule: an SVM's sign (class 1's score is -decision), KNN's larger vote share.
    const fallback = params.type === 'svm' ? 0 : 0.5;
    if (k === 2) threshold = chooseThreshold(chosen.pooled.truth, chosen.pooled.e.scores, fallback, measure);

    // The estimate: the winner's out-of-fold metrics on train, as searched.
    const oof = pool(folds, search.winnerFolds, y, k);
    const estimateMetrics = computeMetrics(oof.truth, oof.e, labels);
    const spec = { ...restrictSpec(plan.specs[sizeIndex]!, setFeatures(plan.sets.find((s) => s.name === w.set)!)), size: w.size };
    const scored = search.candidates.map((c, i) => ({ c, i })).filter(({ c }) => c.status === 'scored' && c.params !== null);
    const summary: AutoSummary = {
      budgetMs: Math.round(options.budgetMs),
      searchMs: Math.round(search.ms),
      threads,
      folds: folds.length,
      sizes: plan.sizes,
      sets: plan.sets.map((s) => ({ name: s.name, families: s.families })),
      scored: scored.length,
      skipped: search.skipped,
      skippedWhy: skippedSummary(search.candidates),
      winner: { size: w.size, set: w.set, classifier: w.classifier, label: w.label, name: candidateName(w), balancedAccuracy: r3(w.balancedAccuracy), auc: r3(w.auc) },
      reason: search.reason,
      featureSets: featureSetTable(search.candidates),
      rankBy: (options.rankBy ?? DEFAULT_RANK_BY) === 'auc' ? 'AUC, then balanced accuracy' : 'balanced accuracy, then AUC',
      top: topCandidates(search.candidates, 10, options.rankBy ?? DEFAULT_RANK_BY),
      promoted: search.promoted.map((p) => ({ size: p.size, set: p.set, balancedAccuracy: r3(p.balancedAccuracy), auc: r3(p.auc) })),
      classWeight: {
        on: onVal ? 'validation' : 'cross-validation',
        by: by === 'accuracy' ? 'accuracy' : 'balanced accuracy',
        chosen: chosen.classWeight,
        compared: tried.map((t) => ({ classWeight: t.classWeight, score: r3(t.score), auc: r3(t.auc) })),
      },
      threshold: threshold
        ? { on: onVal ? 'validation' : 'cross-validation', by: by === 'accuracy' ? 'accuracy' : 'balanced accuracy', value: threshold.threshold, default: fallback, before: r3(threshold.before), after: r3(threshold.after) }
        : { value: null, note: `${k} classes: the highest score decides` },
    };
    const selection = {
      mode: 'cross-validation' as const,
      folds: folds.length,
      best: scored.findIndex(({ i }) => i === search.best),
      candidates: scored.map(({ c }) => ({ params: c.params!, label: describe(c), capped: c.capped, balancedAccuracy: c.balancedAccuracy!, folds: c.folds })),
    };
    const thresholdValue = threshold && threshold.threshold !== fallback ? threshold.threshold : undefined;
    return {
      sizeIndex,
      spec,
      columns: columns(sizeIndex, w.set!),
      settings: { ...settings, auto: false, params, classWeight: chosen.classWeight, threshold: thresholdValue },
      preset: {
        selection,
        estimate: { mode: 'cross-validation', folds: folds.length, metrics: estimateMetrics, foldBalancedAccuracy: w.folds },
        estimateRoc: rocCurves(oof.truth, oof.e.scores, oof.e.predicted, labels),
        auto: summary,
      },
      search,
    };
  } finally {
    await workers.destroy();
  }
}

/** Why candidates were skipped, counted by reason. */
function skippedSummary(candidates: CandidateReport[]): JsonValue {
  const counts = new Map<string, number>();
  for (const c of candidates) if (c.status === 'skipped') counts.set(c.reason ?? 'skipped', (counts.get(c.reason ?? 'skipped') ?? 0) + 1);
  return [...counts].map(([reason, count]) => ({ reason, count }));
}

/** One row per (size, feature set): its best candidate, how many were scored, the time they took. */
export function featureSetTable(candidates: CandidateReport[]): JsonValue {
  const rows = new Map<string, { size: number | null; set: string | null; best: CandidateReport | null; scored: number; skipped: number; ms: number; rung: number; reason: string | null }>();
  for (const c of candidates) {
    const key = `${c.size}|${c.set}`;
    const row = rows.get(key) ?? { size: c.size, set: c.set, best: null, scored: 0, skipped: 0, ms: 0, rung: 1, reason: null };
    rows.set(key, row);
    if (c.status === 'scored') {
      row.scored++;
      row.ms += c.ms;
      row.rung = Math.max(row.rung, c.rung);
      if (!row.best || (c.balancedAccuracy ?? -1) > (row.best.balancedAccuracy ?? -1) || (c.balancedAccuracy === row.best.balancedAccuracy && (c.auc ?? -1) > (row.best.auc ?? -1))) row.best = c;
    } else {
      row.skipped++;
      row.reason ??= c.reason ?? null;
    }
  }
  return [...rows.values()].map((r) => ({
    size: r.size,
    set: r.set,
    best: r.best ? candidateName(r.best) : null,
    balancedAccuracy: r3(r.best?.balancedAccuracy ?? null),
    auc: r3(r.best?.auc ?? null),
    scored: r.scored,
    skipped: r.skipped,
    rung: r.rung,
    ms: Math.round(r.ms),
    ...(r.scored === 0 && r.reason ? { reason: r.reason } : {}),
  }));
}

function topCandidates(candidates: CandidateReport[], n: number, by: RankBy): JsonValue {
  const before = rankedBefore(by);
  return candidates
    .filter((c) => c.status === 'scored')
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (before(a.c, b.c) ? -1 : before(b.c, a.c) ? 1 : a.i - b.i))
    .slice(0, n)
    .map(({ c }) => ({ candidate: describe(c), balancedAccuracy: r3(c.balancedAccuracy), auc: r3(c.auc), folds: c.folds.map((f) => r3(f)), ms: Math.round(c.ms) }));
}


/**
 * The cross-validated estimate of one setting (train without --auto and without val), its
 * folds on worker threads: the same fits, in the same order, as trainModel's own loop.
 */
export async function crossValidate(
  train: { X: Matrix; y: Int32Array },
  labels: string[],
  settings: TrainSettings,
  threads: number,
  signal?: AbortSignal,
  progress?: (stage: Stage, done: number, total: number) => void,
): Promise<Preset> {
  const k = labels.length;
  const folds = stratifiedFolds(train.y, k, settings.folds, settings.seed);
  const X = shared(train.X);
  const y = Int32Array.from(train.y);
  const columns = Int32Array.from({ length: X.cols }, (_, i) => i);
  const { Piscina } = await import('piscina');
  const { filename, execArgv } = workerModule('./auto.worker', import.meta.url);
  const n = Math.max(1, Math.min(threads, folds.length));
  const workers = new Piscina({ filename, execArgv, minThreads: n, maxThreads: n });
  let done = 0;
  progress?.('estimating', 0, folds.length);
  try {
    const results = await Promise.all(
      folds.map(async (split) => {
        const task: AutoTask = { X, y, k, columns, split, params: [settings.params], settings };
        const r = (await workers.run(task, signal ? { signal } : {})) as FoldResult;
        progress?.('estimating', ++done, folds.length);
        return r.evaluations[0]!;
      }),
    );
    const oof = pool(folds, results, y, k);
    const foldBalancedAccuracy = results.map((e, f) => balancedAccuracy(Int32Array.from(folds[f]!.test, (i) => y[i]!), e.predicted, k));
    return {
      selection: null,
      estimate: { mode: 'cross-validation', folds: folds.length, metrics: computeMetrics(oof.truth, oof.e, labels), foldBalancedAccuracy },
      estimateRoc: rocCurves(oof.truth, oof.e.scores, oof.e.predicted, labels),
    };
  } finally {
    await workers.destroy();
  }
}
