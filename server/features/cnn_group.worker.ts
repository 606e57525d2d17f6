import { runGroupTask, type GroupResult, type GroupTask } from '../../shared/classify/cnn/train_cnn.ts';
import { useCnnBackend } from './backend.ts';

/** A piscina task: one group of a CNN training batch on this thread's wasm backend (cnn_groups.ts). */
export default async function groupTask(task: GroupTask): Promise<GroupResult> {
  await useCnnBackend();
  return runGroupTask(task);
}
