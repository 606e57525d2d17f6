import WebSocket from 'ws';
import type { FrameTransport } from '../../shared/client/client.ts';
import { MAX_MESSAGE_BYTES } from '../../shared/protocol/frames.ts';

/** The WebSocket URL of a MedClass server given by its HTTP address. */
export function websocketUrl(server: string): string {
  const url = new URL('/ws', server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** Opens a WebSocket with Node's `ws` and adapts it to the client's transport; `headers` for the upgrade request (tests: X-Forwarded-For). */
export function connectWebSocket(server: string, headers?: Record<string, string>): Promise<FrameTransport> {
  const ws = new WebSocket(websocketUrl(server), { perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES + 64, ...(headers ? { headers } : {}) });
  ws.binaryType = 'nodebuffer';
  const transport: FrameTransport = {
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    onFrame: () => {},
    onClose: () => {},
  };
  ws.on('message', (data: Buffer) => transport.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  ws.on('close', (code, reason) => transport.onClose(code, reason.toString()));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(transport));
    ws.once('error', (e) => reject(new Error(`cannot reach ${server}: ${e.message}`)));
  });
}
