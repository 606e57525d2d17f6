import type { KnnModel } from '../../shared/classify/knn.ts';
import { knnBlocks, type KnnTask } from './knn_threads.ts';

/** The models this thread has been given, by id: the same object for the same model, so that the screen keeps its training set resident. */
const models = new Map<number, KnnModel>();

/** A piscina task: blocks of the test rows until none are left (knn_threads.ts). */
export default function knnPart(task: KnnTask): void {
  if (!models.has(task.id)) {
    models.set(task.id, task.model);
    if (models.size > 4) models.delete(models.keys().next().value!);
  }
  knnBlocks(models.get(task.id)!, task);
}
