import type { MessagePort } from 'node:worker_threads';
import { ClassifyError, type ClassifyErrorCode } from '../../shared/classify/errors.ts';
import type { Stage } from '../../shared/classify/train.ts';
import { fitModel, type FitInput, type FitOutput } from './fit.ts';

/** Progress of the fit, posted on the task's port. */
export interface FitProgress {
  stage: Stage;
  done: number;
  total: number;
}

/** The outcome, or a dataset or option problem with its code (errors lose their class between threads). */
export type FitTaskResult = { ok: true; output: FitOutput } | { ok: false; code: ClassifyErrorCode; message: string };

/** A piscina task: the fit on its own thread (the SMO solver is synchronous); progress on `port`. */
export default function fitTask({ input, port }: { input: FitInput; port: MessagePort }): FitTaskResult {
  try {
    return { ok: true, output: fitModel(input, (stage, done, total) => port.postMessage({ stage, done, total } satisfies FitProgress)) };
  } catch (e) {
    if (e instanceof ClassifyError) return { ok: false, code: e.code, message: e.message };
    throw e;
  } finally {
    port.close();
  }
}
