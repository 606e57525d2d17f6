/**
 * Where the server is and which key it must hold. The app served by the server itself asks
 * it (`/api/config`); a copy hosted elsewhere as static files reads `/config.json`
 * ({"server": "https://...", "pin": "sha256/..."}) beside it.
 */
export interface ServerConfig {
  /** The server's HTTP origin, for /api/login and /api/logout. */
  server: string;
  /** The WebSocket URL of the secure channel. */
  websocket: string;
  /** What the channel's handshake pins: `sha256/<fingerprint>/<spki>`. */
  pin: string;
}

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

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

let cached: Promise<ServerConfig> | null = null;

export function loadServerConfig(): Promise<ServerConfig> {
  cached ??= (async () => {
    const own = await fetchJson('/api/config');
    if (own && typeof own['pin'] === 'string') {
      return { server: location.origin, websocket: websocketUrl(location.origin, typeof own['websocket'] === 'string' ? own['websocket'] : '/ws'), pin: own['pin'] };
    }
    const hosted = await fetchJson('/config.json');
    if (hosted && typeof hosted['server'] === 'string' && typeof hosted['pin'] === 'string') {
      const server = new URL(hosted['server']).origin;
      return { server, websocket: websocketUrl(server, '/ws'), pin: hosted['pin'] };
    }
    throw new UnreachableError('the server did not say where its channel is (no /api/config or /config.json)');
  })();
  // a failure is not remembered: the next try asks again
  cached.catch(() => (cached = null));
  return cached;
}
