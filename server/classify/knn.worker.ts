import { evaluateKnn, type KnnModel } from '../../shared/classify/knn.ts';

/** The models this thread has been given, by id: the training set comes once, in shared memory. */
const models = new Map<number, KnnModel>();

export interface KnnWorkerModel {
  id: number;
  model: Omit<KnnModel, 'samples'> & { samples: { rows: number; cols: number; data: Float64Array } };
}

export interface KnnWorkerTask {
  id: number;
  model?: KnnWorkerModel['model'];
  rows: number;
  cols: number;
  x: Float64Array;
}

/** A piscina task: a part of the test rows in, their predictions and vote fractions out. */
export default function knnPart(task: KnnWorkerTask): { predicted: Int32Array; scores: Float64Array } {
  // the same object for the same model, so that linalg keeps its training set resident
  if (task.model && !models.has(task.id)) {
    models.set(task.id, task.model);
    if (models.size > 4) models.delete(models.keys().next().value!);
  }
  const model = models.get(task.id) ?? task.model;
  if (!model) throw new Error(`knn worker: model ${task.id} unknown`);
  const e = evaluateKnn(model, { rows: task.rows, cols: task.cols, data: task.x });
  return { predicted: e.predicted, scores: e.scores };
}
