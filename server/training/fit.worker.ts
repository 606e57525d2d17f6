import type { MessagePort } from 'node:worker_threads';
import { ClassifyError, type ClassifyErrorCode } from '../../shared/classify/errors.ts';
import type { Stage } from '../../shared/classify/train.ts';
import type { EpochReport } from '../../shared/classify/cnn/train_cnn.ts';
import { fitModel, type FitInput, type FitOutput } from './fit.ts';

/** Progress of the fit, posted on the task's port; the CNN's epochs also carry their report. */
export interface FitProgress {
  stage: Stage;
  done: number;
  total: number;
  epoch?: EpochReport;
}

/** The outcome, or a dataset or option problem with its code (errors lose their class between threads). */
export type FitTaskResult = { ok: true; output: FitOutput } | { ok: false; code: ClassifyErrorCode; message: string };

/** A piscina task: the fit on its own thread (the SMO solver and the CNN are CPU-bound); progress on `port`. */
export default async function fitTask({ input, port }: { input: FitInput; port: MessagePort }): Promise<FitTaskResult> {
  try {
    const output = await fitModel(
      input,
      (stage, done, total) => port.postMessage({ stage, done, total } satisfies FitProgress),
      (epoch) => port.postMessage({ stage: 'fitting', done: epoch.epoch, total: epoch.epochs, epoch } satisfies FitProgress),
    );
    return { ok: true, output };
  } catch (e) {
    if (e instanceof ClassifyError) return { ok: false, code: e.code, message: e.message };
    throw e;
  } finally {
    port.close();
  }
}
