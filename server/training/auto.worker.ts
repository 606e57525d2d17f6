import { runAutoTask, type AutoTask } from '../../shared/classify/auto_task.ts';
import type { FoldResult } from '../../shared/classify/auto_search.ts';

/** A piscina task: one group of --auto's candidates on one fold (X arrives on shared memory, not copied). */
export default function autoTask(task: AutoTask): FoldResult {
  return runAutoTask(task);
}
