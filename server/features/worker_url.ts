/**
 * Where a worker module is, relative to the caller's `import.meta.url`, and how to start it:
 * `.js` in the build, the thread inheriting the process's options (given explicitly, the
 * V8 ones a user may start Node with, such as `--max-old-space-size`, make Worker throw);
 * `.ts` when the sources run through tsx, whose loader a worker thread does not inherit from
 * `register()`, so it is named in the worker's exec arguments.
 */
export function workerModule(path: string, base: string): { filename: string; execArgv: string[] | undefined } {
  const fromSource = base.endsWith('.ts');
  return {
    filename: new URL(`${path}${fromSource ? '.ts' : '.js'}`, base).href,
    // tsx resolved from here, not from the working directory, which may be anywhere
    execArgv: fromSource ? [...process.execArgv, '--import', import.meta.resolve('tsx')] : undefined,
  };
}
