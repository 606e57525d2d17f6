import type { FrameTransport } from '../../shared/client/client.ts';

export interface BrowserTransport extends FrameTransport {
  /** Resolves once the socket has closed, whoever closed it. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** Opens the browser's WebSocket and adapts it to the MedClass client's transport. */
export function openWebSocket(url: string, timeoutMs = 10_000): Promise<BrowserTransport> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    ws.binaryType = 'arraybuffer';
    let opened = false;
    let settleClosed: (v: { code: number; reason: string }) => void = () => {};
    const transport: BrowserTransport = {
      send: (data) => ws.send(data as Uint8Array<ArrayBuffer>),
      close: (code, reason) => ws.close(code, reason),
      onFrame: () => {},
      onClose: () => {},
      closed: new Promise((r) => (settleClosed = r)),
    };
    const timer = setTimeout(() => {
      if (!opened) {
        ws.close();
        reject(new Error('the server did not answer in time'));
      }
    }, timeoutMs);
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      resolve(transport);
    };
    ws.onmessage = (event: MessageEvent) => {
      // the channel speaks binary frames only; anything else is ignored
      if (event.data instanceof ArrayBuffer) transport.onFrame(new Uint8Array(event.data));
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      if (!opened) reject(new Error('the server cannot be reached'));
      settleClosed({ code: event.code, reason: event.reason });
      transport.onClose(event.code, event.reason);
    };
  });
}
