import WebSocket from 'ws';
import type { FrameTransport } from '../../shared/client/client.ts';
import { MAX_MESSAGE_BYTES } from '../../shared/protocol/frames.ts';
import { parseServerAddress, unreachable } from './server_address.ts';

/** Opens a WebSocket with Node's `ws` and adapts it to the client's transport; `headers` for the upgrade request (tests: X-Forwarded-For). */
export function connectWebSocket(server: string, headers?: Record<string, string>): Promise<FrameTransport> {
  const { websocket } = parseServerAddress(server);
  const ws = new WebSocket(websocket, { perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES + 64, ...(headers ? { headers } : {}) });
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
    ws.once('error', (e) => reject(unreachable(websocket, e)));
  });
}
