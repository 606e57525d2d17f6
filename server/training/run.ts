import { ClassifyError } from '../../shared/classify/errors.ts';

/** Runs a command body; a dataset, model or option problem becomes a message and exit status 2. */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (!(e instanceof ClassifyError)) throw e;
    process.stderr.write(`medclass: ${e.message}\n`);
    process.exitCode = 2;
  }
}

/** A warning on standard error; lines that start with spaces continue the one before. */
export const warn = (line: string): void => {
  process.stderr.write(line.startsWith('  ') ? `${line}\n` : `medclass: warning: ${line}\n`);
};
