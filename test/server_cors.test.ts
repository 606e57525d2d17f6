/**
 * CORS for a statically hosted web app on another origin: only the allow-listed origins may
 * read the public configuration (over real HTTP, as a browser would ask); nothing else
 * answers another origin, and the WebSocket keeps refusing origins not on the list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../server/log.ts';
import { createMedclassServer, type MedclassServer } from '../server/server.ts';
import { ADMIN_PASSWORD } from './server_process.ts';

const STATIC = 'https://medclass-app.example';
const OTHER = 'https://evil.example';

let work: string;
let server: MedclassServer;
let url: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-cors-'));
  server = await createMedclassServer({
    dataDir: join(work, 'data'),
    clientDir: mkdtempSync(join(work, 'client-')),
    adminPassword: ADMIN_PASSWORD,
    allowedOrigins: [STATIC],
    demo: false,
    logger: createLogger('warn'),
    threads: 1,
  });
  url = await server.app.listen({ port: 0, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const get = (path: string, origin?: string) => fetch(`${url}${path}`, { headers: origin ? { origin } : {} });

/** Whether a WebSocket from this origin is let in. */
const opens = (origin: string) =>
  new Promise<boolean>((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { origin });
    ws.once('open', () => {
      ws.close();
      resolve(true);
    });
    ws.once('unexpected-response', () => resolve(false));
    ws.once('error', () => resolve(false));
  });

describe('CORS for the allow-listed origins only', () => {
  it('lets an allowed origin read the public configuration and health', async () => {
    for (const path of ['/api/config', '/api/health']) {
      const r = await get(path, STATIC);
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe(STATIC);
      expect(r.headers.get('vary')).toMatch(/origin/i);
      expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    }
    expect(await (await get('/api/config', STATIC)).json()).toEqual({ pin: server.pin, fingerprint: server.fingerprint, websocket: '/ws' });
  });

  it('gives any other origin no CORS header (the browser then keeps the answer from it)', async () => {
    const r = await get('/api/config', OTHER);
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect((await get('/api/config')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers no other route across origins, and no preflight', async () => {
    // version 1's login route is gone (logins happen inside the channel): nothing answers there
    const login = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { origin: STATIC, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'wrong password' }),
    });
    expect(login.status).toBe(404);
    expect(login.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${url}/api/login`, {
      method: 'OPTIONS',
      headers: { origin: STATIC, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('opens the WebSocket to the allowed origin only', async () => {
    expect(await opens(STATIC)).toBe(true);
    expect(await opens(OTHER)).toBe(false);
  });
});
