/**
 * Where the server is and which key it must hold.
 *
 * A build for a static host carries both in the bundle, set at build time
 * (`MEDCLASS_SERVER=https://... MEDCLASS_PIN=sha256/... vite build`); such a build never asks
 * the network for them. A build without them (the one `medclass serve` serves itself) asks
 * its own server (`/api/config`) or a `/config.json` beside it. Either way the pin then goes
 * through trust on first use (pins.ts): a key different from the one this copy of the app
 * trusted before is refused until the user re-pins.
 */
import { trustPin } from './pins.ts';

declare const __MEDCLASS_BUILD__: { server: string | null; pin: string | null };

export interface ServerConfig {
  /** The server's HTTP origin (the key of its remembered pin). */
  server: string;
  /** The WebSocket URL of the secure channel. */
  websocket: string;
  /** What the channel's handshake pins: `sha256/<fingerprint>/<spki>`. */
  pin: string;
  /** Where the pin came from. */
  source: 'built-in' | 'server';
}

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** What the build carries (vite.config.ts `define`); nulls when built without. */
export const BUILT_IN: { server: string | null; pin: string | null } =
  typeof __MEDCLASS_BUILD__ === 'object' && __MEDCLASS_BUILD__ !== null ? __MEDCLASS_BUILD__ : { server: null, pin: null };

function websocketUrl(server: string, path: string): string {
  const url = new URL(path, server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

async function fetchJson(url: string): Promise<Record<string, unknown> | null> {
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } });
  } catch {
    throw new UnreachableError('the server cannot be reached');
  }
  if (!response.ok || !response.headers.get('content-type')?.includes('json')) return null;
  return (await response.json().catch(() => null)) as Record<string, unknown> | null;
}

async function offered(): Promise<Omit<ServerConfig, 'pin'> & { pin: string }> {
  if (BUILT_IN.pin) {
    const server = new URL(BUILT_IN.server ?? location.origin).origin;
    return { server, websocket: websocketUrl(server, '/ws'), pin: BUILT_IN.pin, source: 'built-in' };
  }
  const own = await fetchJson('/api/config');
  if (own && typeof own['pin'] === 'string') {
    return { server: location.origin, websocket: websocketUrl(location.origin, typeof own['websocket'] === 'string' ? own['websocket'] : '/ws'), pin: own['pin'], source: 'server' };
  }
  const hosted = await fetchJson('/config.json');
  if (hosted && typeof hosted['server'] === 'string' && typeof hosted['pin'] === 'string') {
    const server = new URL(hosted['server']).origin;
    return { server, websocket: websocketUrl(server, '/ws'), pin: hosted['pin'], source: 'server' };
  }
  throw new UnreachableError('the server did not say where its channel is (no /api/config or /config.json)');
}

let cached: Promise<Omit<ServerConfig, 'pin'> & { pin: string }> | null = null;

/** The server and the pin to use; throws PinChangedError when the key is not the one trusted before. */
export async function loadServerConfig(): Promise<ServerConfig> {
  cached ??= offered();
  // a failure is not remembered: the next try asks again
  cached.catch(() => (cached = null));
  const config = await cached;
  return { ...config, pin: trustPin(config.server, config.pin) };
}
