import { ClassifyError } from '../../shared/classify/errors.ts';
import { classifyFiles } from '../training/classify_files.ts';
import { readModelFile } from '../training/model_file.ts';
import { runCommand } from '../training/run.ts';
import { collectFiles } from '../files/image_files.ts';

export interface PredictOptions {
  json?: boolean;
}

/**
 * Labels images (files, or folders searched recursively). The scores are the model's class
 * probabilities (SVM: Platt sigmoids and pairwise coupling; KNN: vote fractions), or the SVM
 * decision function when the model has no probabilities. The label is the SVM's one-vs-one
 * vote (as libsvm and scikit-learn predict), which can differ from the most probable class
 * for a borderline image.
 */
export async function predictCommand(modelPath: string, paths: string[], options: PredictOptions): Promise<void> {
  await runCommand(async () => {
    const model = await readModelFile(modelPath);
    const inputs = await collectFiles(paths);
    const missing = inputs.filter((i) => i.missing);
    for (const m of missing) process.stderr.write(`medclass: ${m.missing}\n`);
    const jobs = inputs.filter((i) => !i.missing);
    if (jobs.length === 0) throw new ClassifyError('invalidDataset', 'no image files to classify');
    const outcomes = await classifyFiles(model, jobs);
    let failures = missing.length;
    const lines: string[] = [];
    for (const o of outcomes) {
      if (!o.ok) {
        failures++;
        process.stderr.write(`medclass: ${o.name}: ${o.error}\n`);
        continue;
      }
      const values = o.shown;
      const label = model.labels[o.predicted]!;
      if (options.json) {
        const scores = Object.fromEntries(model.labels.map((l, c) => [l, values[c]!]));
        lines.push(JSON.stringify({ file: o.name, label, scores }));
      } else {
        lines.push(`${o.name}\t${label}\t${model.labels.map((l, c) => `${l}: ${values[c]!.toFixed(4)}`).join('  ')}`);
      }
    }
    if (!options.json && lines.length) process.stdout.write(`# file\tlabel\t${model.doc.classifier.type === 'svm' && !model.doc.classifier.probA ? `decision values${model.predictor.threshold !== undefined ? ' less the threshold' : ''}` : 'probabilities'}\n`);
    if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
    if (failures) process.exitCode = 1;
  });
}
