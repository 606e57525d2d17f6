import { resolve } from 'node:path';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { countTable } from '../../shared/classify/dataset.ts';
import type { RocCurve } from '../../shared/classify/roc.ts';
import type { AutoSummary, JsonValue } from '../../shared/classify/train.ts';
import { describeParams } from '../../shared/classify/model.ts';
import { writeModelFile } from '../training/model_file.ts';
import { parseTrainOptions, type TrainCliOptions } from '../training/options.ts';
import { createProgress } from '../training/progress.ts';
import { fixed, metricsDetail, metricsLine, table } from '../training/report.ts';
import { runCommand, warn } from '../training/run.ts';
import { trainDataset, type TrainPhase } from '../training/train_dataset.ts';
import { cnnRoundLines } from '../training/auto_cnn.ts';

/**
 * `medclass train`: reads a dataset folder, extracts features on worker threads, reports
 * counts and duplicates, fits (and with --auto tunes) the model, prints the validation or
 * cross-validated estimate and the test metrics, and writes the model file.
 */
export async function trainCommand(dataset: string, options: TrainCliOptions): Promise<void> {
  const { spec, settings, out, threads, search } = parseTrainOptions(options);
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
              `epoch ${r.epoch}/${r.epochs}: loss ${fixed(r.loss)}, accuracy ${fixed(r.accuracy)}; ${search ? 'held-out fifth of train' : hasVal ? 'val' : 'held-out tenth of train'}: loss ${fixed(r.valLoss)}, ` +
                `accuracy ${fixed(r.valAccuracy)}${r.valAuc === null ? '' : `, AUC ${fixed(r.valAuc)}`} (${(r.ms / 1000).toFixed(1)} s, learning rate ${r.learningRate.toPrecision(2)})`,
            );
          },
          onDataset: (info) => {
            progress.stop();
            hasVal = (info.counts.val && Object.values(info.counts.val).some((n) => n > 0)) ?? false;
            say(`dataset ${resolve(dataset)} (${info.layout === 'splits' ? `${info.splits.map((s) => `${s}/`).join(' ')} splits` : 'one folder per class: all of it trains'})`);
            say(countTable(info.splits.map((s) => ({ name: s, counts: info.counts[s]! })), info.labels));
            const f = info.firstImage;
            if (info.searched) {
              const s = info.searched;
              say(`--auto extracts every family it tries once per size, ${s.sizes.map((z, i) => `${z === 0 ? `kept ${f?.width}x${f?.height}` : `size ${z}`}: ${s.features[i]!.join(', ')}`).join('; ')}`);
              return;
            }
            say(
              `features ${spec.features.join(', ')}; size ${spec.size === 0 ? `0 (kept: ${f?.width}x${f?.height})` : spec.size}, levels ${spec.levels}, ` +
                `${spec.orientations} orientations, ${spec.pixelsPerCell} px cells, ${spec.cellsPerBlock}x${spec.cellsPerBlock} blocks${familySettings(spec)}: ${info.featureLength} values per image`,
            );
          },
        },
        { cliFlags: true, fitOn: 'here', ...(threads ? { threads } : {}), ...(search ? { search } : {}) },
      );
    } finally {
      progress.stop();
    }

    const { outcome, doc } = result;
    if (outcome.auto) for (const line of autoReport(outcome.auto)) say(line);
    if (outcome.auto) say(`features ${result.spec.features.join(', ')}; size ${result.spec.size === 0 ? `0 (kept: ${result.imageSize?.width}x${result.imageSize?.height})` : result.spec.size}: ${result.featureLength} values per image`);
    const weighted = result.settings.classWeight ? ', classes weighted (balanced)' : '';
    const threshold =
      outcome.predictor.threshold !== undefined
        ? `, threshold ${Number(outcome.predictor.threshold.toPrecision(4))} on ${result.labels[1]}'s score (the probabilities shown are shifted to put it at 0.5, so the label is the more probable class)`
        : '';
    say(`model ${describeParams(outcome.params, outcome.gamma)}${weighted}${outcome.params.type === 'svm' && settings.probability ? ', Platt probabilities' : ''}${threshold}`);
    if (outcome.selection && !outcome.auto) {
      const sel = outcome.selection;
      const ranked = sel.candidates.map((c, i) => ({ c, i })).sort((a, b) => b.c.balancedAccuracy - a.c.balancedAccuracy || a.i - b.i);
      say(`--auto: ${sel.candidates.length} candidates by balanced accuracy on ${sel.mode === 'validation' ? 'val/' : `${sel.folds}-fold cross-validation of train/`}; chosen: ${sel.candidates[sel.best]!.label}`);
      say(table(['rank', 'candidate', 'balanced acc.'], ranked.slice(0, 8).map(({ c }, r) => [String(r + 1), c.label + (c.capped ? ' (iteration cap)' : ''), fixed(c.balancedAccuracy)]), 2));
    }
    const net = outcome.predictor.classifier;
    if (net.type === 'ensemble') {
      const weighted = net.members.some((m) => m.weight !== undefined);
      say(`ensemble: ${net.members.map((m) => `${m.classifier.type.toUpperCase()} on ${m.features.join(', ')}${weighted ? ` (weight ${Number((m.weight ?? 1).toPrecision(3))})` : ''}`).join(' + ')}, class probabilities averaged${weighted ? ' by weight' : ''}`);
    }
    for (const m of net.type === 'ensemble' ? net.members.map((x) => x.classifier) : [net]) if (m.type === 'cnn') say(`kept the weights of epoch ${m.model.bestEpoch} of ${m.model.history.length} (lowest validation loss)`);
    const est = outcome.estimate;
    const spread = est.foldBalancedAccuracy.length > 1 ? ` (folds ${est.foldBalancedAccuracy.map((v) => fixed(v, 2)).join(' ')})` : '';
    say(`${est.mode === 'validation' ? `validation (val/, ${est.metrics.n} images)` : `cross-validation (${est.folds}-fold on train/, out-of-fold)`}: ${metricsLine(est.metrics)}${spread}`);
    if (outcome.test) {
      say(`test (test/, ${outcome.test.n} images, scored once): ${metricsLine(outcome.test)}`);
      say(metricsDetail(outcome.test));
      if (result.testRoc) say(rocSummary(result.testRoc));
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

type Row = Record<string, JsonValue>;
const num = (v: JsonValue | undefined): string => (typeof v === 'number' ? fixed(v) : '-');

/** What --auto tried and why the winner won, as the report's lines. */
export function autoReport(a: AutoSummary): string[] {
  const sets = (a['featureSets'] as Row[]) ?? [];
  const skipped = ((a['skippedWhy'] as Row[]) ?? []).map((r) => `${r['count']} ${r['reason']}`);
  const lines = [
    `--auto: ${a['scored']} candidates scored by ${a['folds']}-fold cross-validation of train/ in ${((a['searchMs'] as number) / 1000).toFixed(1)} s on ${a['threads']} thread(s), budget ${((a['budgetMs'] as number) / 1000).toFixed(0)} s for the whole training` +
      (skipped.length ? `; skipped: ${skipped.join('; ')}` : ''),
    table(
      ['size', 'feature set', 'best candidate', 'CV bal. acc.', 'CV AUC', 'scored', 'time'],
      sets.map((r) => [
        r['size'] === null ? '-' : r['size'] === 0 ? 'kept' : String(r['size']),
        String(r['set'] ?? '-'),
        String(r['best'] ?? (r['reason'] ? `not tried: ${r['reason']}` : 'not tried')),
        num(r['balancedAccuracy']),
        num(r['auc']),
        String(r['scored']),
        `${((r['ms'] as number) / 1000).toFixed(1)} s`,
      ]),
      3,
    ),
    'best candidates:',
    table(
      ['rank', 'candidate', 'CV bal. acc.', 'CV AUC'],
      ((a['top'] as Row[]) ?? []).map((r, i) => [String(i + 1), String(r['candidate']), num(r['balancedAccuracy']), num(r['auc'])]),
      2,
    ),
    `chosen: ${String((a['winner'] as Row)['set'])} at ${(a['winner'] as Row)['size'] === 0 ? 'kept size' : `size ${(a['winner'] as Row)['size']}`}, ${String((a['winner'] as Row)['name'])}: ${String(a['reason'])}`,
  ];
  const cw = a['classWeight'] as Row;
  const compared = (cw['compared'] as Row[]).map((r) => `${r['classWeight'] ?? 'none'} ${num(r['score'])}`);
  if (compared.length > 1) lines.push(`class weights by ${String(cw['by'])} on ${String(cw['on'])}: ${compared.join(', ')}: ${cw['chosen'] ?? 'none'}`);
  const t = a['threshold'] as Row;
  if (t['value'] === null) lines.push(`decision: ${String(t['note'])}`);
  else {
    const moved = t['value'] !== t['default'];
    lines.push(
      `decision threshold by ${String(t['by'])} on ${String(t['on'])}: ${moved ? `${Number((t['value'] as number).toPrecision(4))} instead of ${t['default']}` : `the classifier's own (${t['default']})`}, ${num(t['before'])} -> ${num(t['after'])}`,
    );
  }
  lines.push(...cnnRoundLines(a['cnn']));
  return lines;
}

/** Per class: AUC and the operating point of the model's decisions on its ROC curve. */
function rocSummary(curves: RocCurve[]): string {
  return `ROC (one-vs-rest, test): ${curves.map((c) => `${c.label} AUC ${fixed(c.auc)} at FPR ${fixed(c.operatingPoint.fpr)} / TPR ${fixed(c.operatingPoint.tpr)}`).join('; ')}`;
}
