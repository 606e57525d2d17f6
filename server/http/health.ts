import type { FastifyInstance } from 'fastify';

/** What /readyz says: ready, or why not (in plain words, for whoever reads the health check's log). */
export type Readiness = { ready: true } | { ready: false; reason: string };

/**
 * Two probes, as App Service (and any orchestrator) uses them: /healthz says the process is up
 * and answering (200 while it runs); /readyz says this instance can serve now: the store answers
 * and the current models load, and it is not shutting down (503 with the reason otherwise), so
 * that a load balancer sends its traffic elsewhere.
 */
export function registerHealthRoutes(app: FastifyInstance, readiness: () => Promise<Readiness>): void {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const r = await readiness();
    return reply.code(r.ready ? 200 : 503).header('cache-control', 'no-store').send(r);
  });
}

/** A probe that did not answer in time is a failed probe, not a hung health check. */
export function within<T>(ms: number, what: string, work: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms)));
  return Promise.race([Promise.resolve().then(work), late]).finally(() => clearTimeout(timer));
}
