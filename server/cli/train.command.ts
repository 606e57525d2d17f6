import { resolve } from 'node:path';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { countTable } from '../../shared/classify/dataset.ts';
import { describeParams } from '../../shared/classify/model.ts';
import { writeModelFile } from '../training/model_file.ts';
import { parseTrainOptions, type TrainCliOptions } from '../training/options.ts';
import { createProgress } from '../training/progress.ts';
import { fixed, metricsDetail, metricsLine, table } from '../training/report.ts';
import { runCommand, warn } from '../training/run.ts';
import { trainDataset, type TrainPhase } from '../training/train_dataset.ts';

/**
 * `medclass train`: reads a dataset folder, extracts features on worker threads, reports
 * counts and duplicates, fits (and with --auto tunes) the model, prints the validation or
 * cross-validated estimate and the test metrics, and writes the model file.
 */
export async function trainCommand(dataset: string, options: TrainCliOptions): Promise<void> {
  const { spec, settings, out } = parseTrainOptions(options);
  await runCommand(async () => {
    const started = performance.now();
    const say = (text = '') => process.stdout.write(`${text}\n`);
    const progress = createProgress();
    let hasVal = false;
    const label = (phase: TrainPhase) =>
      ({ extracting: 'extracting features', tuning: 'tuning', estimating: hasVal ? 'scoring on val' : 'cross-validating', fitting: settings.params.type === 'cnn' ? 'training the CNN (epochs)' : 'fitting' })[phase];
    let result;
    try {
      result = await trainDataset(
        dataset,
        spec,
        settings,
        {
          onProgress: (phase, done, total) => progress.update(label(phase), done, total),
          onWarning: warn,
          onEpoch: (r) => {
            progress.stop();
            say(
              `epoch ${r.epoch}/${r.epochs}: loss ${fixed(r.loss)}, accuracy ${fixed(r.accuracy)}; ${hasVal ? 'val' : 'held-out tenth of train'}: loss ${fixed(r.valLoss)}, ` +
                `accuracy ${fixed(r.valAccuracy)}${r.valAuc === null ? '' : `, AUC ${fixed(r.valAuc)}`} (${(r.ms / 1000).toFixed(1)} s, learning rate ${r.learningRate.toPrecision(2)})`,
            );
          },
          onDataset: (info) => {
            progress.stop();
            hasVal = (info.counts.val && Object.values(info.counts.val).some((n) => n > 0)) ?? false;
            say(`dataset ${resolve(dataset)} (${info.layout === 'splits' ? `${info.splits.map((s) => `${s}/`).join(' ')} splits` : 'one folder per class: all of it trains'})`);
            say(countTable(info.splits.map((s) => ({ name: s, counts: info.counts[s]! })), info.labels));
            const f = info.firstImage;
            say(
              `features ${spec.features.join(', ')}; size ${spec.size === 0 ? `0 (kept: ${f?.width}x${f?.height})` : spec.size}, levels ${spec.levels}, ` +
                `${spec.orientations} orientations, ${spec.pixelsPerCell} px cells, ${spec.cellsPerBlock}x${spec.cellsPerBlock} blocks${familySettings(spec)}: ${info.featureLength} values per image`,
            );
          },
        },
        { cliFlags: true, fitOn: 'here' },
      );
    } finally {
      progress.stop();
    }

    const { outcome, doc } = result;
    say(`model ${describeParams(outcome.params, outcome.gamma)}${settings.classWeight ? ', classes weighted (balanced)' : ''}${outcome.params.type === 'svm' && settings.probability ? ', Platt probabilities' : ''}`);
    if (outcome.selection) {
      const sel = outcome.selection;
      const ranked = sel.candidates.map((c, i) => ({ c, i })).sort((a, b) => b.c.balancedAccuracy - a.c.balancedAccuracy || a.i - b.i);
      say(`--auto: ${sel.candidates.length} candidates by balanced accuracy on ${sel.mode === 'validation' ? 'val/' : `${sel.folds}-fold cross-validation of train/`}; chosen: ${sel.candidates[sel.best]!.label}`);
      say(table(['rank', 'candidate', 'balanced acc.'], ranked.slice(0, 8).map(({ c }, r) => [String(r + 1), c.label + (c.capped ? ' (iteration cap)' : ''), fixed(c.balancedAccuracy)]), 2));
    }
    const net = outcome.predictor.classifier;
    if (net.type === 'cnn') say(`kept the weights of epoch ${net.model.bestEpoch} of ${net.model.history.length} (lowest validation loss)`);
    const est = outcome.estimate;
    const spread = est.foldBalancedAccuracy.length > 1 ? ` (folds ${est.foldBalancedAccuracy.map((v) => fixed(v, 2)).join(' ')})` : '';
    say(`${est.mode === 'validation' ? `validation (val/, ${est.metrics.n} images)` : `cross-validation (${est.folds}-fold on train/, out-of-fold)`}: ${metricsLine(est.metrics)}${spread}`);
    if (outcome.test) {
      say(`test (test/, ${outcome.test.n} images, scored once): ${metricsLine(outcome.test)}`);
      say(metricsDetail(outcome.test));
    } else say('no test/ split: only the estimate above');

    const bytes = await writeModelFile(out, doc, result.modelText);
    say(`saved ${out} (${(bytes / 2 ** 20).toFixed(2)} MiB, sha256 ${doc.integrity.sha256.slice(0, 16)}...) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}

/** The settings of the families after the seven, where the spec uses them (nothing for an old spec). */
function familySettings(spec: FeatureSpec): string {
  const parts: string[] = [];
  if (spec.features.includes('hog2')) parts.push(`second HOG ${spec.pixelsPerCell2} px cells`);
  if (spec.features.includes('lbp')) parts.push(`LBP ${spec.lbp.map((c) => `${c.method}:${c.points}:${c.radius}`).join(',')}`);
  if (spec.features.includes('glcmAngles')) parts.push(`GLCM distances ${spec.glcmDistances.join(',')}`);
  if (spec.features.some((f) => f.endsWith('Histogram') || f.endsWith('Moments'))) parts.push(`${spec.histogramBins} histogram bins`);
  if (spec.features.includes('gabor')) parts.push(`Gabor frequencies ${spec.gaborFrequencies.join(',')} at ${spec.gaborOrientations} angles`);
  return parts.map((p) => `, ${p}`).join('');
}
