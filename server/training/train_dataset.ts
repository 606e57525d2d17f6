import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { errorMessage } from '../../shared/errors.ts';
import type { RocCurve } from '../../shared/classify/roc.ts';
import { decodeImageAsync } from '../../shared/image/index.ts';
import { chooseModel, crossValidate, DEFAULT_RANK_BY, featureSearchBudget, planAuto, type AutoOptions, type AutoPlan, type ImageProbe } from './auto_model.ts';
import { cnnRound, type CnnRoundSplit, type EnsembleMemberFit } from './auto_cnn.ts';
import { describe, rankedBefore, setFeatures, type CandidateReport } from '../../shared/classify/auto_search.ts';
import { fitFinal } from '../../shared/classify/train.ts';
import { featureColumns } from '../../shared/classify/feature_columns.ts';
import {
  checkTrainingClasses,
  countLabels,
  duplicateWarnings,
  findDuplicates,
  SPLITS,
  sortLabels,
  type Counts,
  type DuplicateReport,
  type SplitName,
} from '../../shared/classify/dataset.ts';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import { integrityHash, serializeModel, type ModelDocument } from '../../shared/classify/model.ts';
import type { AutoSummary, LabelledSet, Preset, Stage, TrainOutcome, TrainSettings } from '../../shared/classify/train.ts';
import type { FeatureName, FeatureSpec } from '../../shared/features/spec.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { scanDataset } from './dataset.ts';
import { extractFiles } from './extract.ts';
import type { EpochReport } from '../../shared/classify/cnn/train_cnn.ts';
import { fitModel, type EpochHook, type FitInput } from './fit.ts';
import { aborted, fitOnWorker } from './fit_on_worker.ts';
import type { VectorJob, VectorResult } from './vectors.ts';

/** One image of a dataset held in memory (an upload): where it belongs, and its file's bytes. */
export interface DatasetItem {
  /** How reports name it, e.g. train/0/115.png. */
  name: string;
  split: SplitName;
  label: string;
  bytes: Uint8Array;
}

export type TrainPhase = 'extracting' | Stage;

export interface TrainDatasetHooks {
  /** Extraction (images n of N), then the fit's stages (tuning or estimating, then fitting). */
  onProgress?(phase: TrainPhase, done: number, total: number): void;
  /** A warning line; lines that start with two spaces continue the one before. */
  onWarning?(line: string): void;
  /** Once the images are extracted and counted, before the fit. */
  onDataset?(info: DatasetInfo): void;
  /** The CNN, after each epoch: loss and accuracy on train, on the validation images. */
  onEpoch?(report: EpochReport): void;
}

export interface TrainDatasetOptions {
  /** Extraction threads (one per core by default). */
  threads?: number;
  /** `worker`: the fit runs on its own thread (a server's event loop stays free); `here`: in this thread. */
  fitOn?: 'worker' | 'here';
  /** Extraction on worker threads even for a few images. */
  alwaysWorkers?: boolean;
  limits?: DecodeLimits;
  /** How messages name the dataset (a folder's path by default; 'the upload', ...). */
  name?: string;
  /** For in-memory items: whether they came as split folders (train/ val/ test/) or one folder per class. */
  layout?: 'classes' | 'splits';
  /** Messages name command-line flags (--size, --k) rather than settings. */
  cliFlags?: boolean;
  /** Stops the job (between extraction and the fit, or the fit's thread). */
  signal?: AbortSignal;
  /** Class names for folder names that are only numbers (MedMNIST's `0`, `1`). */
  labelNames?: Readonly<Record<string, string>>;
  /**
   * --auto with the features: sizes, feature sets, classifiers and settings searched within a
   * time budget (auto_model.ts); `spec` then gives the HOG settings and the levels only.
   */
  search?: AutoOptions | undefined;
}

export interface DatasetInfo {
  name: string;
  /** With a search: the sizes and the features extracted at each, before any choice. */
  searched?: { sizes: number[]; features: string[][] } | undefined;
  layout: 'classes' | 'splits';
  splits: SplitName[];
  labels: string[];
  /** Usable images per split and class. */
  counts: Partial<Record<SplitName, Counts>>;
  featureLength: number;
  /** The first usable image's decoded size. */
  firstImage: { width: number; height: number } | null;
}

export interface MisclassifiedCell {
  trueLabel: string;
  predicted: string;
  /** Test images of this confusion cell, by name. */
  names: string[];
}

export interface TrainDatasetResult extends DatasetInfo {
  doc: ModelDocument;
  /** The model file's text (what `--out` writes and the store keeps). */
  modelText: string;
  outcome: TrainOutcome;
  settings: TrainSettings;
  imageSize: { width: number; height: number } | null;
  warnings: string[];
  leftOut: { name: string; error: string }[];
  duplicates: DuplicateReport;
  /** Off-diagonal cells of the test confusion matrix with the images in them. */
  misclassified: MisclassifiedCell[];
  timings: { extractMs: number; fitMs: number; totalMs: number };
  /** The spec the model uses (--auto's choice, or the one given). */
  spec: FeatureSpec;
  /** ROC curves of the test split per class (null without one). */
  testRoc: RocCurve[] | null;
}

/** The document with --auto's record replaced, its integrity hash recomputed. */
function rebuildAuto(doc: ModelDocument, auto: AutoSummary): ModelDocument {
  const { integrity: _old, ...rest } = doc;
  const next = { ...rest, training: { ...rest.training, auto } };
  return { ...next, integrity: { sha256: integrityHash(next as Record<string, unknown>) } };
}

interface Entry {
  name: string;
  split: SplitName;
  label: string;
  job: VectorJob;
}

/** Splits first (train, val, test), then classes in label order, then names: the same rows whatever order the files came in. */
function canonicalOrder(entries: Entry[], labels: string[]): Entry[] {
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const splitIndex = (s: SplitName) => SPLITS.indexOf(s);
  return [...entries].sort(
    (a, b) => splitIndex(a.split) - splitIndex(b.split) || labelIndex.get(a.label)! - labelIndex.get(b.label)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

/** The items of an in-memory dataset: splits and labels checked as a folder's would be. */
function itemsLayout(items: readonly DatasetItem[], name: string) {
  const splits = SPLITS.filter((s) => items.some((i) => i.split === s));
  if (!splits.includes('train')) throw new ClassifyError('invalidDataset', `${name}: no image files to train on`);
  const trainLabels = new Set(items.filter((i) => i.split === 'train').map((i) => i.label));
  for (const split of splits) {
    if (split === 'train') continue;
    const unknown = [...new Set(items.filter((i) => i.split === split && !trainLabels.has(i.label)).map((i) => i.label))];
    if (unknown.length) throw new ClassifyError('invalidDataset', `${name}/${split}: class ${unknown.map((l) => `'${l}'`).join(', ')} has no folder in train/`);
  }
  return { splits, labels: sortLabels(trainLabels) };
}


/** The first training image's size and colour, decoded ahead of extraction: what --auto's plan depends on. */
async function probeImage(job: VectorJob, limits?: DecodeLimits): Promise<ImageProbe> {
  const bytes = 'bytes' in job ? job.bytes : new Uint8Array(await readFile(job.path));
  try {
    const img = await decodeImageAsync(bytes, limits);
    return { width: img.width, height: img.height, colour: img.colour !== undefined };
  } catch (e) {
    throw new ClassifyError('invalidDataset', `${job.name}: ${errorMessage(e)}`);
  }
}

/**
 * Trains a model on a labelled dataset: a folder (one subfolder per class, or train/ val/ test/
 * splits) or images held in memory. Features are extracted on worker threads; images that
 * cannot be used are left out with a warning; duplicates and label conflicts are reported;
 * then the model is fitted (tuned with `settings.auto`), estimated on val or by
 * cross-validation, scored once on test, and written as a model document.
 *
 * `settings` may depend on the vector length (gamma 'auto' is 1 / features).
 */
export async function trainDataset(
  source: string | readonly DatasetItem[],
  spec: FeatureSpec,
  settingsFor: TrainSettings | ((featureLength: number) => TrainSettings),
  hooks: TrainDatasetHooks = {},
  options: TrainDatasetOptions = {},
): Promise<TrainDatasetResult> {
  const started = performance.now();
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    hooks.onWarning?.(line);
  };
  const flag = (name: string) => (options.cliFlags ? `--${name}` : name);

  // What there is: names, splits and labels, before any decoding.
  let name: string;
  let layout: 'classes' | 'splits';
  let splits: SplitName[];
  let labels: string[];
  let entries: Entry[];
  if (typeof source === 'string') {
    const scanned = await scanDataset(source);
    name = options.name ?? source;
    ({ layout, splits, labels } = scanned);
    for (const f of scanned.emptyFolders) warn(`${f}/ holds no image files`);
    entries = scanned.files.map((f) => ({ name: f.name, split: f.split, label: f.label, job: { name: f.name, path: f.path } }));
  } else {
    name = options.name ?? 'the dataset';
    ({ splits, labels } = itemsLayout(source, name));
    layout = options.layout ?? (splits.length === 1 ? 'classes' : 'splits');
    entries = source.map((i) => ({ name: i.name, split: i.split, label: i.label, job: { name: i.name, bytes: i.bytes } }));
  }
  if (!entries.some((f) => f.split === 'train')) throw new ClassifyError('invalidDataset', `${name}: no image files to train on`);
  const names = options.labelNames;
  if (names) {
    labels = labels.map((l) => names[l] ?? l);
    entries = entries.map((e) => ({ ...e, label: names[e.label] ?? e.label }));
  }
  entries = canonicalOrder(entries, labels);
  const trainWhere = `${name}${layout === 'splits' ? '/train' : ''}`;
  // Before the work of extraction: what the folders alone show cannot be trained on.
  checkTrainingClasses(countLabels(entries.filter((f) => f.split === 'train').map((f) => f.label), labels), trainWhere);

  const extractOptions = (offset: number, of: number) => ({
    threads: options.threads ?? availableParallelism(),
    onProgress: (d: number, t: number) => hooks.onProgress?.('extracting', offset * t + d, of * t),
    ...(options.alwaysWorkers ? { alwaysWorkers: true } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const jobs = entries.map((e) => e.job);
  let plan: AutoPlan | null = null;
  let results: VectorResult[];
  let perSize: VectorResult[][] = [];
  if (options.search) {
    // Every family of every candidate set, once per candidate size.
    const firstTrain = entries.find((e) => e.split === 'train')!;
    plan = planAuto(spec, options.search, await probeImage(firstTrain.job, options.limits));
    for (const [i, s] of plan.specs.entries()) perSize.push(await extractFiles(jobs, s, extractOptions(i, plan.specs.length)));
    // An image is usable if every size could use it; otherwise it is left out with its first error.
    results = entries.map((_, i) => perSize.map((r) => r[i]!).find((r) => !r.ok) ?? perSize[0]![i]!);
  } else {
    results = await extractFiles(jobs, spec, extractOptions(0, 1));
  }
  const extractMs = performance.now() - started;
  if (options.signal?.aborted) throw aborted();

  // Images that cannot be used are reported and left out.
  const leftOut = results.flatMap((r) => (r.ok ? [] : [{ name: r.name, error: r.error }]));
  if (leftOut.length) {
    warn(`${leftOut.length} image(s) left out:`);
    for (const f of leftOut.slice(0, 10)) warn(`  ${f.name}: ${f.error}`);
    if (leftOut.length > 10) warn(`  ... and ${leftOut.length - 10} more`);
  }
  const usable = entries.flatMap((entry, i) => {
    const r = results[i]!;
    return r.ok ? [{ entry, r }] : [];
  });
  // At size 0 every image keeps its size, so all must share one to give vectors of one length.
  const sizes = new Set(usable.map(({ r }) => `${r.width}x${r.height}`));
  if (plan && sizes.size > 1 && plan.sizes.includes(0)) {
    if (plan.sizes.length === 1) throw new ClassifyError('invalidDataset', `${flag('size')} 0 keeps each image's size, but the images come in ${sizes.size} sizes; give ${flag('size')} N`);
    warn(`the images come in ${sizes.size} sizes, so --auto does not try keeping their size`);
    const keep = plan.sizes.map((s, i) => (s === 0 ? -1 : i)).filter((i) => i >= 0);
    plan = { ...plan, sizes: keep.map((i) => plan!.sizes[i]!), specs: keep.map((i) => plan!.specs[i]!) };
    perSize = keep.map((i) => perSize[i]!);
  }
  if (!plan && spec.size === 0 && sizes.size > 1) {
    throw new ClassifyError(
      'invalidDataset',
      `${flag('size')} 0 keeps each image's size, but the images come in ${sizes.size} sizes (${[...sizes].slice(0, 4).join(', ')}); give ${flag('size')} N to resize them all`,
    );
  }
  const first = usable[0]?.r;
  let imageSize = spec.size === 0 && first ? { width: first.width, height: first.height } : null;
  let d = first ? first.vector.length : 0;

  const bySplit = (split: SplitName) => usable.filter(({ entry }) => entry.split === split);
  const countsOf = (split: SplitName) => countLabels(bySplit(split).map(({ entry }) => entry.label), labels);
  const counts: Partial<Record<SplitName, Counts>> = Object.fromEntries(splits.map((s) => [s, countsOf(s)]));
  const info: DatasetInfo = {
    name,
    layout,
    splits,
    labels,
    counts,
    featureLength: d,
    firstImage: first ? { width: first.width, height: first.height } : null,
    ...(plan ? { searched: { sizes: plan.sizes, features: plan.specs.map((s) => s.features) } } : {}),
  };
  hooks.onDataset?.(info);
  checkTrainingClasses(countsOf('train'), trainWhere);
  for (const s of splits) {
    if (s === 'train') continue;
    const missing = labels.filter((l) => countsOf(s)[l] === 0);
    if (missing.length) warn(`${s}/ has no images of class ${missing.map((l) => `'${l}'`).join(', ')}`);
  }
  const duplicates = findDuplicates(usable.map(({ entry, r }) => ({ name: entry.name, split: entry.split, label: entry.label, hash: r.hash })));
  for (const line of duplicateWarnings(duplicates)) warn(line);

  let runSpec = spec;
  let settings = typeof settingsFor === 'function' ? settingsFor(d) : settingsFor;
  let preset: Preset | undefined;
  let vectorOf = (r: VectorResult & { ok: true }): Float64Array => r.vector;
  let cnnRows: ((items: ReturnType<typeof bySplit>) => CnnRoundSplit) | null = null;
  let winnerFeatures: FeatureName[] = [];
  let memberCandidate: { candidate: CandidateReport; features: FeatureName[] } | null = null;
  if (plan) {
    // The search sees train and val only; test waits for the final model.
    const rows = [...bySplit('train'), ...bySplit('val')];
    const index = new Map(entries.map((e, i) => [e, i]));
    const X = perSize.map((list) => {
      const len = (list[index.get(rows[0]!.entry)!] as VectorResult & { ok: true }).vector.length;
      const data = new Float64Array(rows.length * len);
      rows.forEach(({ entry }, i) => data.set((list[index.get(entry)!] as VectorResult & { ok: true }).vector, i * len));
      return matrix(rows.length, len, data);
    });
    const dims = plan.sizes.map((s) => (s === 0 ? { width: first!.width, height: first!.height } : { width: s, height: s }));
    const choice = await chooseModel({
      labels,
      plan,
      dims,
      X,
      y: Int32Array.from(rows, ({ entry }) => labels.indexOf(entry.label)),
      nTrain: bySplit('train').length,
      nVal: bySplit('val').length,
      settings: { ...settings, auto: true },
      // with the CNN to follow, the search gets its share (what it leaves goes to the CNN)
      budgetMs: ('feature' in plan.cnn ? featureSearchBudget(options.search!.budgetMs) : options.search!.budgetMs) - (performance.now() - started),
      options: options.search!,
      signal: options.signal,
      progress: (stage, done, total) => hooks.onProgress?.(stage, done, total),
    });
    if (options.signal?.aborted) throw aborted();
    runSpec = choice.spec;
    settings = choice.settings;
    preset = choice.preset;
    d = choice.columns.length;
    imageSize = runSpec.size === 0 ? dims[choice.sizeIndex]! : null;
    const chosen = perSize[choice.sizeIndex]!;
    const cols = choice.columns;
    const slice = (v: Float64Array) => Float64Array.from(cols, (c) => v[c]!);
    const byResult = new Map(usable.map(({ entry, r }) => [r, slice((chosen[index.get(entry)!] as VectorResult & { ok: true }).vector)]));
    vectorOf = (r) => byResult.get(r)!;
    winnerFeatures = runSpec.features;
    const cnnPlan = plan.cnn;
    if ('feature' in cnnPlan) {
      // The CNN round's vectors at the CNN's size: its pixels, and the winner's features with them (an ensemble's spec).
      const full = perSize[cnnPlan.sizeIndex]!;
      const sizeSpec = plan.specs[cnnPlan.sizeIndex]!;
      const dd = dims[cnnPlan.sizeIndex]!;
      const pixelCols = featureColumns(sizeSpec, [cnnPlan.feature], dd.height, dd.width);
      // The ensemble's feature member: the winner, or where that is at another size the best candidate at the CNN's.
      if (runSpec.size !== cnnPlan.size) {
        const before = rankedBefore(options.search!.rankBy ?? DEFAULT_RANK_BY);
        let best: CandidateReport | null = null;
        for (const c of choice.search.candidates) if (c.status === 'scored' && c.size === cnnPlan.size && c.params && c.set && (!best || before(c, best))) best = c;
        if (best) memberCandidate = { candidate: best, features: setFeatures(plan.sets.find((s) => s.name === best.set)!) };
      }
      const memberFeatures = memberCandidate?.features ?? runSpec.features;
      const memberCols = featureColumns(sizeSpec, memberFeatures, dd.height, dd.width);
      const unionCols = featureColumns(sizeSpec, [...memberFeatures, cnnPlan.feature], dd.height, dd.width);
      cnnRows = (items) => {
        const take = (cols: Int32Array, of: (r: VectorResult & { ok: true }, entry: Entry) => Float64Array) => {
          const data = new Float64Array(items.length * cols.length);
          items.forEach(({ entry, r }, i) => {
            const v = of(r, entry);
            for (let j = 0; j < cols.length; j++) data[i * cols.length + j] = v[cols[j]!]!;
          });
          return matrix(items.length, cols.length, data);
        };
        const fullOf = (_r: VectorResult & { ok: true }, entry: Entry) => (full[index.get(entry)!] as VectorResult & { ok: true }).vector;
        return {
          features: take(Int32Array.from({ length: d }, (_, j) => j), (r) => vectorOf(r)),
          pixels: take(pixelCols, fullOf),
          member: take(memberCols, fullOf),
          union: take(unionCols, fullOf),
          y: Int32Array.from(items, ({ entry }) => labels.indexOf(entry.label)),
        };
      };
    }
  }

  const set = (split: SplitName): LabelledSet | undefined => {
    const items = bySplit(split);
    if (!splits.includes(split) || items.length === 0) return undefined;
    const data = new Float64Array(items.length * d);
    items.forEach(({ r }, i) => data.set(vectorOf(r), i * d));
    return { X: matrix(items.length, d, data), y: Int32Array.from(items, ({ entry }) => labels.indexOf(entry.label)) };
  };
  const train = set('train')!;
  const val = set('val');
  const test = set('test');
  const testNames = bySplit('test').map(({ entry }) => entry.name);
  if (settings.params.type === 'knn' && settings.params.k > train.y.length) {
    throw new ClassifyError('invalidOptions', `${flag('k')} ${settings.params.k} is more than the ${train.y.length} training images`);
  }

  const fitStarted = performance.now();
  // Without val the estimate is a cross-validation: its folds go to worker threads, one per core.
  // (Not the CNN's: it holds out a tenth of train for early stopping and its estimate.)
  const threads = options.threads ?? availableParallelism();
  if (!preset && !settings.auto && !val && threads > 1 && settings.params.type !== 'cnn') {
    preset = await crossValidate(train, labels, settings, threads, options.signal, (stage, done, total) => hooks.onProgress?.(stage, done, total));
  }
  const input: FitInput = { spec: runSpec, labels, featureLength: d, imageSize, train, val, test, settings, counts: countsOf('train'), createdAt: new Date().toISOString(), preset };
  const progress = (stage: Stage, done: number, total: number) => hooks.onProgress?.(stage, done, total);
  const onEpoch: EpochHook = (r) => hooks.onEpoch?.(r);
  let fit = options.fitOn === 'worker' ? await fitOnWorker(input, progress, options.signal, onEpoch) : await fitModel(input, progress, onEpoch);

  // --auto with the CNN: the CNN and the ensemble against the feature model, by cross-validation of train/.
  if (plan && options.search && 'feature' in plan.cnn) {
    const trainRows = cnnRows!(bySplit('train'));
    let member: EnsembleMemberFit | undefined;
    if (memberCandidate) {
      // fitted here on train/, as the CNN, with Platt probabilities to average
      const m = trainRows.member;
      const p = memberCandidate.candidate.params as EnsembleMemberFit['params'];
      const f = fitFinal({ X: m, y: train.y }, labels.length, p, { ...settings, params: p, probability: true, threshold: undefined, auto: false });
      member = { features: memberCandidate.features, predictor: f.predictor, params: p, gamma: f.gamma, iterations: f.iterations, capped: f.capped, label: describe(memberCandidate.candidate) };
    }
    const round = await cnnRound({
      member,
      labels,
      plan: plan.cnn,
      sizeSpec: plan.specs[plan.cnn.sizeIndex]!,
      dims: plan.sizes[plan.cnn.sizeIndex] === 0 ? { width: first!.width, height: first!.height } : { width: plan.sizes[plan.cnn.sizeIndex]!, height: plan.sizes[plan.cnn.sizeIndex]! },
      winner: { features: winnerFeatures, size: runSpec.size, fit, spec: runSpec },
      train: trainRows,
      val: val ? cnnRows!(bySplit('val')) : undefined,
      test: test ? cnnRows!(bySplit('test')) : undefined,
      settings,
      options: options.search,
      leftMs: options.search.budgetMs - (performance.now() - started),
      signal: options.signal,
      progress: (done, total) => hooks.onProgress?.('fitting', done, total),
      onEpoch: (r) => hooks.onEpoch?.(r),
    });
    if (round.final) {
      fit = round.final.fit;
      runSpec = round.final.spec;
      d = round.final.featureLength;
      imageSize = round.final.imageSize;
      // the final model's settings: the CNN's class weights are its own (the ensemble's feature member keeps the chosen ones)
      settings = { ...settings, params: fit.outcome.params, threshold: fit.outcome.predictor.threshold, ...(fit.outcome.params.type === 'cnn' ? { classWeight: options.search.classWeight ?? null } : {}) };
    }
    if (!fit.outcome.auto || !('cnn' in fit.outcome.auto)) {
      // the feature model stays: the round's record joins its report and its file
      const auto = { ...(fit.outcome.auto ?? {}), cnn: round.summary };
      fit.outcome.auto = auto;
      fit = { ...fit, doc: rebuildAuto(fit.doc, auto) };
      fit.text = serializeModel(fit.doc);
    }
  } else if (plan && options.search && fit.outcome.auto) {
    const auto = { ...fit.outcome.auto, cnn: { skipped: (plan.cnn as { skipped: string }).skipped } };
    fit.outcome.auto = auto;
    fit = { ...fit, doc: rebuildAuto(fit.doc, auto) };
    fit.text = serializeModel(fit.doc);
  }
  const fitMs = performance.now() - fitStarted;
  const { outcome } = fit;
  if (outcome.capped) warn(`${outcome.capped} binary problem(s) stopped at libsvm's iteration limit before converging; consider a smaller C`);

  // The test images the final model got wrong, per cell of the confusion matrix.
  const cells = new Map<string, MisclassifiedCell>();
  if (fit.testPredicted && test) {
    fit.testPredicted.forEach((p, i) => {
      const t = test.y[i]!;
      if (p === t) return;
      const key = `${t}:${p}`;
      let cell = cells.get(key);
      if (!cell) cells.set(key, (cell = { trueLabel: labels[t]!, predicted: labels[p]!, names: [] }));
      cell.names.push(testNames[i]!);
    });
  }
  const misclassified = [...cells.values()].sort((a, b) => labels.indexOf(a.trueLabel) - labels.indexOf(b.trueLabel) || labels.indexOf(a.predicted) - labels.indexOf(b.predicted));

  return {
    ...info,
    // the chosen model's (--auto extracted more)
    featureLength: d,
    doc: fit.doc,
    modelText: fit.text,
    outcome,
    settings,
    imageSize,
    warnings,
    leftOut,
    duplicates,
    misclassified,
    timings: { extractMs, fitMs, totalMs: performance.now() - started },
    spec: runSpec,
    testRoc: fit.testRoc,
  };
}
