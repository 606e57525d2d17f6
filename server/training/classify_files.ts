import { availableParallelism } from 'node:os';
import { cnnModels, predict, shownScores } from '../../shared/classify/classifier.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import type { LoadedModel } from '../../shared/classify/model.ts';
import { useCnnBackend } from '../features/backend.ts';
import { extractFiles } from './extract.ts';
import { createProgress } from './progress.ts';
import type { VectorJob } from './vectors.ts';

export type FileOutcome =
  /** scores: the ranking scores (AUC); shown: what a user is shown (shownScores: probabilities where there are, agreeing with the label). */
  | { name: string; ok: true; predicted: number; scores: Float64Array; probabilities: Float64Array | null; shown: Float64Array }
  | { name: string; ok: false; error: string };

/** Extracts each file with the model's own spec and classifies it; a file that cannot be used gets its reason. */
export async function classifyFiles(model: LoadedModel, jobs: readonly VectorJob[]): Promise<FileOutcome[]> {
  const progress = createProgress(process.stderr, jobs.length < 200);
  let results;
  try {
    results = await extractFiles(jobs, model.spec, { threads: availableParallelism(), onProgress: (d, t) => progress.update('extracting features', d, t) });
  } finally {
    progress.stop();
  }
  const d = model.featureLength;
  const outcomes: FileOutcome[] = results.map((r) => {
    if (!r.ok) return { name: r.name, ok: false, error: r.error };
    if (r.vector.length !== d) {
      const want = model.imageSize ? `${model.imageSize.width}x${model.imageSize.height} images (it was trained with size 0: images at their own size)` : `${d} features`;
      return { name: r.name, ok: false, error: `this model takes ${want}; this image is ${r.width}x${r.height}` };
    }
    return { name: r.name, ok: true, predicted: -1, scores: new Float64Array(0), probabilities: null, shown: new Float64Array(0) };
  });
  const okIndex = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
  if (okIndex.length === 0) return outcomes;
  const X = matrix(okIndex.length, d);
  okIndex.forEach((i, r) => {
    const res = results[i]!;
    if (res.ok) X.data.set(res.vector, r * d);
  });
  if (cnnModels(model.predictor.classifier).length) await useCnnBackend();
  const e = predict(model.predictor, X);
  const shown = shownScores(model.predictor, e);
  const k = e.k;
  okIndex.forEach((i, r) => {
    outcomes[i] = {
      name: results[i]!.name,
      ok: true,
      predicted: e.predicted[r]!,
      scores: e.scores.slice(r * k, (r + 1) * k),
      probabilities: e.probabilities ? e.probabilities.slice(r * k, (r + 1) * k) : null,
      shown: shown.slice(r * k, (r + 1) * k),
    };
  });
  return outcomes;
}
