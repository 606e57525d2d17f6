/**
 * What users type for --server, and what we say when it cannot be reached. People paste the
 * web app's address (http://host:8080), the WebSocket's (ws://host:8080/ws) or just host:port;
 * all name the same server.
 */
export interface ServerAddress {
  /** The server's HTTP(S) origin, e.g. https://medclass.example.org */
  http: URL;
  /** Its channel, e.g. wss://medclass.example.org/ws */
  websocket: URL;
}

const SCHEMES: Record<string, 'http:' | 'https:'> = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' };

export function parseServerAddress(input: string): ServerAddress {
  const text = input.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`--server ${input} is not an address: give it as http://host:port, https://host, ws://host:port or host:port`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) throw new Error(`--server ${input}: use http://, https://, ws:// or wss:// (or no scheme for http)`);
  if (url.pathname !== '/' && url.pathname !== '/ws' && url.pathname !== '/ws/') {
    throw new Error(`--server ${input}: give the server's address without a path (the channel is always at /ws)`);
  }
  const http = new URL(`${scheme}//${url.host}/`);
  const websocket = new URL('/ws', http);
  websocket.protocol = scheme === 'https:' ? 'wss:' : 'ws:';
  return { http, websocket };
}

/** Why a connection failed, in words, from Node's network error codes. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'nothing is listening there (is the server running, and on this port?)',
  ENOTFOUND: 'no such host name',
  EAI_AGAIN: 'the host name could not be looked up (DNS)',
  ETIMEDOUT: 'no answer in time',
  ECONNRESET: 'the connection was cut',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's TLS certificate is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another name",
  EPROTO: 'TLS failed (is it an http:// server given as https:// or wss://?)',
};

/** One line for a failed connection: which server, and why (never a bare "fetch failed"). */
export function unreachable(address: URL, error: unknown): Error {
  // fetch wraps the network error in `cause`
  const e = (error as { cause?: unknown })?.cause ?? error;
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  const why = (typeof code === 'string' && REASONS[code]) || message.replace(/^Unexpected server response: (\d+)$/, 'it answered HTTP $1: is it a MedClass server?');
  return new Error(`cannot reach the MedClass server at ${address.href}: ${why}`);
}
