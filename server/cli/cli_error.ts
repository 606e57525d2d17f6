/** A failure the user can act on: printed as one line, exit status 2, no stack. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Network, login and channel failures become CliErrors with their message. */
export function asCliError<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    throw e instanceof CliError ? e : new CliError(e instanceof Error ? e.message : String(e));
  });
}
