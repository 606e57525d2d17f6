import { ClassifyError } from '../../shared/classify/errors.ts';
import { computeMetrics } from '../../shared/classify/metrics.ts';
import { classifyFiles } from '../training/classify_files.ts';
import { scanLabelledFolder } from '../training/dataset.ts';
import { readModelFile } from '../training/model_file.ts';
import { fixed, metricsDetail, metricsJson, metricsLine } from '../training/report.ts';
import { rocCurves } from '../../shared/classify/roc.ts';
import { runCommand, warn } from '../training/run.ts';

export interface EvaluateOptions {
  json?: boolean;
}

/** Scores a model on a labelled folder (one subfolder per class) with the model's own feature spec. */
export async function evaluateCommand(modelPath: string, folder: string, options: EvaluateOptions): Promise<void> {
  await runCommand(async () => {
    const model = await readModelFile(modelPath);
    const { labels, files, emptyFolders } = await scanLabelledFolder(folder);
    const unknown = labels.filter((l) => !model.labels.includes(l));
    if (unknown.length) {
      throw new ClassifyError('invalidDataset', `${folder}: class ${unknown.map((l) => `'${l}'`).join(', ')} is not one the model knows (${model.labels.join(', ')})`);
    }
    for (const f of emptyFolders) warn(`${f}/ holds no image files`);
    if (files.length === 0) throw new ClassifyError('invalidDataset', `${folder}: no image files to score`);
    const outcomes = await classifyFiles(model, files);
    const failed = outcomes.flatMap((o) => (o.ok ? [] : [o]));
    if (failed.length) {
      warn(`${failed.length} image(s) could not be scored and are left out:`);
      for (const f of failed.slice(0, 10)) process.stderr.write(`  ${f.name}: ${f.error}\n`);
    }
    const scored = outcomes.flatMap((o, i) => (o.ok ? [{ o, label: files[i]!.label }] : []));
    if (scored.length === 0) throw new ClassifyError('invalidDataset', `${folder}: none of the ${files.length} images could be scored`);
    const k = model.labels.length;
    const truth = Int32Array.from(scored, (s) => model.labels.indexOf(s.label));
    const scores = new Float64Array(scored.length * k);
    scored.forEach((s, i) => scores.set(s.o.scores, i * k));
    const predicted = Int32Array.from(scored, (s) => s.o.predicted);
    const metrics = computeMetrics(truth, { k, predicted, scores, probabilities: null }, model.labels);
    const roc = rocCurves(truth, scores, predicted, model.labels, model.predictor.threshold ?? null);
    if (options.json) process.stdout.write(`${metricsJson(metrics, roc)}\n`);
    else {
      const op = roc.map((c) => `${c.label}: FPR ${fixed(c.operatingPoint.fpr)} TPR ${fixed(c.operatingPoint.tpr)}`).join('; ');
      process.stdout.write(`model ${modelPath}: ${model.doc.training.description}\n${folder}: ${metrics.n} images\n${metricsLine(metrics)}\n${metricsDetail(metrics)}\nROC operating points (one-vs-rest): ${op}\n`);
    }
    if (failed.length) process.exitCode = 1;
  });
}
