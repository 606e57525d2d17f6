/**
 * The URL of a worker module, relative to the caller's `import.meta.url`: `.js` in the
 * build, `.ts` when the sources run through tsx (whose loader the worker inherits).
 */
export function workerUrl(path: string, base: string): string {
  return new URL(`${path}${base.endsWith('.ts') ? '.ts' : '.js'}`, base).href;
}
