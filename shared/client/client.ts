import { closeCodeFor, ProtocolError } from '../protocol/errors.ts';
import type { Pin } from '../protocol/identity.ts';
import type { ClassifyImage, MessageOf, ServerMessage, ServiceInfo } from '../protocol/messages.ts';
import { startClientSession, type ClientSession } from '../protocol/session.ts';

/** What the client needs of a WebSocket: the browser's and Node's `ws` both fit through a small adapter. */
export interface FrameTransport {
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Set by the client: called with each binary message, and once when the socket closes. */
  onFrame: (data: Uint8Array) => void;
  onClose: (code: number, reason: string) => void;
}

export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type ImageResult =
  | ({ ok: true } & Omit<MessageOf<'result'>, 'type' | 'requestId' | 'index'>)
  | { ok: false; code: string; message: string };

interface Pending {
  resolve(value: ServerMessage): void;
  reject(error: Error): void;
}

let nextId = 0;
const newRequestId = () => `r${Date.now().toString(36)}${(nextId++).toString(36)}`;

/**
 * The MedClass client over the secure channel: the handshake against pinned keys, then
 * requests matched to their answers. Used by the web app and the `medclass` CLI alike.
 */
export class MedclassClient {
  private readonly waiting = new Map<string, Pending>();
  private readonly byType = new Map<ServerMessage['type'], Pending[]>();
  private readonly classifying = new Map<string, { results: ImageResult[]; left: number; done(): void; fail(e: Error): void }>();
  private closed: ClientError | null = null;

  private constructor(
    private readonly transport: FrameTransport,
    private readonly session: ClientSession,
  ) {
    transport.onFrame = (data) => {
      this.session.open(data).then(
        (m) => this.deliver(m),
        (e: unknown) => {
          const code = e instanceof ProtocolError ? e.code : 'badMessage';
          this.shutdown(new ClientError(code, `the server's message was refused: ${(e as Error).message}`));
          transport.close(e instanceof ProtocolError ? closeCodeFor(e.code) : 4020, code);
        },
      );
    };
    transport.onClose = (code, reason) => this.shutdown(new ClientError('closed', `the connection closed (${code}${reason ? `: ${reason}` : ''})`));
  }

  /** Runs the handshake over an open transport; refused unless the server holds a pinned key. */
  static connect(transport: FrameTransport, pins: Pin | readonly Pin[]): Promise<MedclassClient> {
    return new Promise((resolve, reject) => {
      transport.onClose = (code, reason) => reject(new ClientError('closed', `the connection closed during the handshake (${code}${reason ? `: ${reason}` : ''})`));
      startClientSession(pins).then((start) => {
        transport.onFrame = (reply) => {
          start.finish(reply).then(
            (session) => resolve(new MedclassClient(transport, session)),
            (e: unknown) => {
              transport.close(e instanceof ProtocolError ? closeCodeFor(e.code) : 4001, 'handshake failed');
              reject(e instanceof ProtocolError ? new ClientError(e.code, `the server could not be verified: ${e.message}`) : e);
            },
          );
        };
        transport.send(start.hello);
      }, reject);
    });
  }

  get sessionId(): string {
    return this.session.id;
  }

  private shutdown(error: ClientError): void {
    if (this.closed) return;
    this.closed = error;
    this.session.close();
    for (const p of this.waiting.values()) p.reject(error);
    for (const list of this.byType.values()) for (const p of list) p.reject(error);
    for (const c of this.classifying.values()) c.fail(error);
    this.waiting.clear();
    this.byType.clear();
    this.classifying.clear();
  }

  private deliver(m: ServerMessage): void {
    const requestId = 'requestId' in m ? (m.requestId as string | undefined) : undefined;
    if (requestId && this.classifying.has(requestId) && (m.type === 'result' || m.type === 'error')) {
      const c = this.classifying.get(requestId)!;
      if (m.type === 'result') {
        const { type: _t, requestId: _r, index, ...rest } = m;
        c.results[index] = { ok: true, ...rest };
      } else {
        if (m.index === undefined) {
          this.classifying.delete(requestId);
          return c.fail(new ClientError(m.code, m.message));
        }
        c.results[m.index] = { ok: false, code: m.code, message: m.message };
      }
      if (--c.left === 0) {
        this.classifying.delete(requestId);
        c.done();
      }
      return;
    }
    if (requestId && this.waiting.has(requestId)) {
      const p = this.waiting.get(requestId)!;
      this.waiting.delete(requestId);
      return m.type === 'error' ? p.reject(new ClientError(m.code, m.message)) : p.resolve(m);
    }
    // Answers without a request id come in the order asked; an error without one goes to the oldest.
    const queue = m.type === 'error' ? [...this.byType.values()].find((q) => q.length) : this.byType.get(m.type);
    const p = queue?.shift();
    if (!p) return;
    if (m.type === 'error') p.reject(new ClientError(m.code, m.message));
    else p.resolve(m);
  }

  private async send(message: Parameters<ClientSession['seal']>[0]): Promise<void> {
    if (this.closed) throw this.closed;
    this.transport.send(await this.session.seal(message));
  }

  private expect<T extends ServerMessage['type']>(type: T): Promise<Extract<ServerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const list = this.byType.get(type) ?? [];
      list.push({ resolve: resolve as (m: ServerMessage) => void, reject });
      this.byType.set(type, list);
    });
  }

  async authenticate(token: string): Promise<{ user: string; role: 'admin' | 'clinician' }> {
    const answer = this.expect('authenticated');
    await this.send({ type: 'authenticate', token });
    const { user, role } = await answer;
    return { user, role };
  }

  async listServices(): Promise<ServiceInfo[]> {
    const answer = this.expect('services');
    await this.send({ type: 'listServices' });
    return (await answer).services;
  }

  /** Classifies images with a service; resolves with one result per image, in order. */
  async classify(service: string, images: ClassifyImage[]): Promise<ImageResult[]> {
    const requestId = newRequestId();
    const done = new Promise<ImageResult[]>((resolve, reject) => {
      const results: ImageResult[] = new Array(images.length);
      this.classifying.set(requestId, { results, left: images.length, done: () => resolve(results), fail: reject });
    });
    await this.send({ type: 'classify', requestId, service, images });
    return done;
  }

  /** A request answered by `ok` (rollback, publish, ...), matched by its id. */
  async request(message: Extract<Parameters<ClientSession['seal']>[0], { requestId: string }>): Promise<ServerMessage> {
    const answer = new Promise<ServerMessage>((resolve, reject) => this.waiting.set(message.requestId, { resolve, reject }));
    await this.send(message);
    return answer;
  }

  static newRequestId = newRequestId;

  close(): void {
    this.shutdown(new ClientError('closed', 'the client closed the connection'));
    this.transport.close(1000, 'bye');
  }
}
