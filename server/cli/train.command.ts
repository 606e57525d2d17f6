import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { checkTrainingClasses, countLabels, countTable, duplicateWarnings, findDuplicates, type SplitName } from '../../shared/classify/dataset.ts';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import { buildModelDocument, describeParams, trainingContentHash } from '../../shared/classify/model.ts';
import { trainModel, type LabelledSet } from '../../shared/classify/train.ts';
import { scanDataset } from '../training/dataset.ts';
import { extractFiles } from '../training/extract.ts';
import { writeModelFile } from '../training/model_file.ts';
import { parseTrainOptions, type TrainCliOptions } from '../training/options.ts';
import { createProgress } from '../training/progress.ts';
import { fixed, metricsDetail, metricsLine, table } from '../training/report.ts';
import { runCommand, warn } from '../training/run.ts';
import type { VectorResult } from '../training/vectors.ts';

/**
 * `medclass train`: reads a dataset folder, extracts features on worker threads, reports
 * counts and duplicates, fits (and with --auto tunes) the model, prints the validation or
 * cross-validated estimate and the test metrics, and writes the model file.
 */
export async function trainCommand(dataset: string, options: TrainCliOptions): Promise<void> {
  const { spec, settings, out } = parseTrainOptions(options);
  await runCommand(async () => {
    const started = performance.now();
    const layout = await scanDataset(dataset);
    const say = (text = '') => process.stdout.write(`${text}\n`);
    for (const f of layout.emptyFolders) warn(`${f}/ holds no image files`);
    if (!layout.files.some((f) => f.split === 'train')) throw new ClassifyError('invalidDataset', `${dataset}: no image files to train on`);
    const trainWhere = `${dataset}${layout.layout === 'splits' ? '/train' : ''}`;
    // Before the work of extraction: what the folders alone show cannot be trained on.
    checkTrainingClasses(countLabels(layout.files.filter((f) => f.split === 'train').map((f) => f.label), layout.labels), trainWhere);

    const progress = createProgress();
    let results: VectorResult[];
    try {
      results = await extractFiles(layout.files, spec, { threads: availableParallelism(), onProgress: (d, t) => progress.update('extracting features', d, t) });
    } finally {
      progress.stop();
    }

    // Images that cannot be used are reported and left out.
    const failed = results.flatMap((r) => (r.ok ? [] : [r]));
    if (failed.length) {
      warn(`${failed.length} image(s) left out:`);
      for (const f of failed.slice(0, 10)) process.stderr.write(`  ${f.name}: ${f.error}\n`);
      if (failed.length > 10) process.stderr.write(`  ... and ${failed.length - 10} more\n`);
    }
    const usable = layout.files.flatMap((file, i) => {
      const r = results[i]!;
      return r.ok ? [{ file, r }] : [];
    });
    // At size 0 every image keeps its size, so all must share one to give vectors of one length.
    const sizes = new Set(usable.map(({ r }) => `${r.width}x${r.height}`));
    if (spec.size === 0 && sizes.size > 1) {
      throw new ClassifyError('invalidDataset', `--size 0 keeps each image's size, but the images come in ${sizes.size} sizes (${[...sizes].slice(0, 4).join(', ')}); give --size N to resize them all`);
    }
    const first = usable[0]?.r;
    const imageSize = spec.size === 0 && first ? { width: first.width, height: first.height } : null;

    const labels = layout.labels;
    const bySplit = (split: SplitName) => usable.filter(({ file }) => file.split === split);
    const countsOf = (split: SplitName) => countLabels(bySplit(split).map(({ file }) => file.label), labels);
    say(`dataset ${resolve(dataset)} (${layout.layout === 'splits' ? `${layout.splits.map((s) => `${s}/`).join(' ')} splits` : 'one folder per class: all of it trains'})`);
    say(countTable(layout.splits.map((s) => ({ name: s, counts: countsOf(s) })), labels));
    checkTrainingClasses(countsOf('train'), trainWhere);
    for (const s of layout.splits) {
      if (s === 'train') continue;
      const missing = labels.filter((l) => countsOf(s)[l] === 0);
      if (missing.length) warn(`${s}/ has no images of class ${missing.map((l) => `'${l}'`).join(', ')}`);
    }

    const dup = findDuplicates(usable.map(({ file, r }) => ({ name: file.name, split: file.split, label: file.label, hash: r.hash })));
    for (const line of duplicateWarnings(dup)) warn(line);

    const d = first ? first.vector.length : 0;
    say(
      `features ${spec.features.join(', ')}; size ${spec.size === 0 ? `0 (kept: ${first?.width}x${first?.height})` : spec.size}, levels ${spec.levels}, ` +
        `${spec.orientations} orientations, ${spec.pixelsPerCell} px cells, ${spec.cellsPerBlock}x${spec.cellsPerBlock} blocks: ${d} values per image`,
    );
    const set = (split: SplitName): LabelledSet | undefined => {
      const items = bySplit(split);
      if (!layout.splits.includes(split) || items.length === 0) return undefined;
      const data = new Float64Array(items.length * d);
      items.forEach(({ r }, i) => data.set(r.vector, i * d));
      return { X: matrix(items.length, d, data), y: Int32Array.from(items, ({ file }) => labels.indexOf(file.label)) };
    };
    const train = set('train')!;
    const val = set('val');
    const test = set('test');
    if (settings.params.type === 'knn' && settings.params.k > train.y.length) {
      throw new ClassifyError('invalidOptions', `--k ${settings.params.k} is more than the ${train.y.length} training images`);
    }

    const fitProgress = createProgress();
    const stageLabel = { tuning: 'tuning', estimating: val ? 'scoring on val' : 'cross-validating', fitting: 'fitting' } as const;
    let outcome;
    try {
      outcome = trainModel({ labels, train, val, test }, settings, { progress: (stage, done, total) => fitProgress.update(stageLabel[stage], done, total) });
    } finally {
      fitProgress.stop();
    }

    say(`model ${describeParams(outcome.params, outcome.gamma)}${settings.classWeight ? ', classes weighted (balanced)' : ''}${outcome.params.type === 'svm' && settings.probability ? ', Platt probabilities' : ''}`);
    if (outcome.capped) warn(`${outcome.capped} binary problem(s) stopped at libsvm's iteration limit before converging; consider a smaller C`);
    if (outcome.selection) {
      const sel = outcome.selection;
      const ranked = sel.candidates.map((c, i) => ({ c, i })).sort((a, b) => b.c.balancedAccuracy - a.c.balancedAccuracy || a.i - b.i);
      say(`--auto: ${sel.candidates.length} candidates by balanced accuracy on ${sel.mode === 'validation' ? 'val/' : `${sel.folds}-fold cross-validation of train/`}; chosen: ${sel.candidates[sel.best]!.label}`);
      say(table(['rank', 'candidate', 'balanced acc.'], ranked.slice(0, 8).map(({ c }, r) => [String(r + 1), c.label + (c.capped ? ' (iteration cap)' : ''), fixed(c.balancedAccuracy)]), 2));
    }
    const est = outcome.estimate;
    const spread = est.foldBalancedAccuracy.length > 1 ? ` (folds ${est.foldBalancedAccuracy.map((v) => fixed(v, 2)).join(' ')})` : '';
    say(`${est.mode === 'validation' ? `validation (val/, ${est.metrics.n} images)` : `cross-validation (${est.folds}-fold on train/, out-of-fold)`}: ${metricsLine(est.metrics)}${spread}`);
    if (outcome.test) {
      say(`test (test/, ${outcome.test.n} images, scored once): ${metricsLine(outcome.test)}`);
      say(metricsDetail(outcome.test));
    } else say('no test/ split: only the estimate above');

    const doc = buildModelDocument({
      spec,
      labels,
      featureLength: d,
      imageSize,
      outcome,
      training: { size: train.y.length, counts: countsOf('train'), contentHash: trainingContentHash(train.X, train.y, labels), seed: settings.seed },
      createdAt: new Date(),
    });
    const bytes = await writeModelFile(out, doc);
    say(`saved ${out} (${(bytes / 2 ** 20).toFixed(2)} MiB, sha256 ${doc.integrity.sha256.slice(0, 16)}...) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}
