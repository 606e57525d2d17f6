import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_DIR, PROJECT_ROOT } from '../paths.ts';

/** Builds the web app with Vite when no build is there yet (a fresh `npm install && npm start`). */
export async function ensureClientBuilt(log: (msg: string) => void): Promise<void> {
  if (existsSync(join(CLIENT_DIR, 'index.html'))) return;
  log('building the web app (first start)...');
  const { build } = await import('vite');
  await build({ configFile: join(PROJECT_ROOT, 'vite.config.ts'), logLevel: 'warn' });
}

export interface AppOptions {
  logger?: boolean;
  /** The built web app (default dist/client). */
  clientDir?: string;
  /** Proxies whose X-Forwarded-For sets request.ip (addresses or CIDRs); none by default. */
  trustedProxies?: string[];
}

/** The HTTP side: the web app with strict security headers. */
export async function buildApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const proxies = options.trustedProxies ?? [];
  // X-Forwarded-For only from the proxies named: anyone else could write any address there
  const app = Fastify({ logger: options.logger ?? false, ...(proxies.length ? { trustProxy: proxies } : {}) });
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // tfjs compiles its wasm and shaders; nothing else runs that was not served here
        scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
        workerSrc: ["'self'", 'blob:'],
        imgSrc: ["'self'", 'data:', 'blob:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        // TLS ends in front of the app (Azure App Service); locally it is plain http
        upgradeInsecureRequests: null,
      },
    },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(fastifyStatic, { root: options.clientDir ?? CLIENT_DIR, wildcard: false });
  // The app's own routes all load the single page.
  app.setNotFoundHandler((request, reply) => {
    if (request.method === 'GET' && !request.url.startsWith('/api/') && request.headers.accept?.includes('text/html')) {
      return reply.sendFile('index.html');
    }
    return reply.code(404).send({ error: 'not found' });
  });
  return app;
}

export async function startServer(options: { port: number; host: string }): Promise<FastifyInstance> {
  await ensureClientBuilt((m) => process.stderr.write(`${m}\n`));
  const app = await buildApp();
  const address = await app.listen({ port: options.port, host: options.host });
  process.stderr.write(`MedClass is serving ${address}\n`);
  return app;
}
