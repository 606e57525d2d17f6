import { closeCodeFor, ProtocolError } from '../protocol/errors.ts';
import type { Pin } from '../protocol/identity.ts';
import { MAX_CHUNK_BYTES, type ClassifyImage, type ClientMessage, type MessageOf, type PrivacyMode, type ServerMessage, type ServiceInfo } from '../protocol/messages.ts';
import { startClientSession, type ClientSession } from '../protocol/session.ts';
import { SERVER_SHUTTING_DOWN, sessionEndCause, SHUTTING_DOWN_CODE } from '../protocol/session_end.ts';

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

/** What a training job sends while it runs: progress, then the report. */
export type TrainEvent = MessageOf<'trainProgress'> | MessageOf<'trainDone'>;
/** What the server sends unasked: a service changed, an upload of yours was dropped. */
export type PushEvent = MessageOf<'serviceChanged'> | MessageOf<'uploadDropped'>;
export type TrainClassifier = Extract<ClientMessage, { type: 'train' }>['classifier'];
export type TrainSpec = Extract<ClientMessage, { type: 'train' }>['spec'];

export type TrainAuto = NonNullable<Extract<ClientMessage, { type: 'train' }>['auto']>;

export interface TrainOptions {
  /** Automatic tuning on the server (feature sets, sizes, classifiers within a budget); absent: exactly these settings. */
  auto?: TrainAuto | undefined;
  /** Called once the server has accepted the job. */
  onStarted?(jobId: string): void;
  onProgress?(phase: string, done: number, total: number): void;
  /** The CNN: each finished epoch's loss and accuracy (the curves). */
  onEpoch?(epoch: NonNullable<MessageOf<'trainProgress'>['epoch']>): void;
}

interface TrainWaiter extends TrainOptions {
  requestId: string;
  jobId: string | null;
  resolve(value: { jobId: string; report: MessageOf<'trainDone'>['report'] }): void;
  reject(error: Error): void;
}

export interface LoginResult {
  user: string;
  role: 'admin' | 'clinician';
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** After a password login: present it at this client's next login as this user (it keeps its own allowance). */
  deviceToken?: string;
  /** Logged in with a one-time password: change it (changePassword) before anything else. */
  mustChangePassword?: boolean;
}

function loginResult(m: ServerMessage): LoginResult {
  if (m.type !== 'loggedIn') throw new ClientError('badMessage', `the server answered a login with ${m.type}`);
  return {
    user: m.user,
    role: m.role,
    token: m.token,
    expiresAt: m.expiresAt,
    ...(m.deviceToken ? { deviceToken: m.deviceToken } : {}),
    ...(m.mustChangePassword ? { mustChangePassword: true } : {}),
  };
}

/**
 * Why the connection closed, as an error: a session ended by the server (4040-4045) carries
 * its cause as the code (`loggedOut`, `passwordChanged`, ...); 4046 is `serverShuttingDown`
 * (reconnect: the login stays good); anything else is `closed`.
 */
export function closeError(code: number, reason: string): ClientError {
  if (code === SERVER_SHUTTING_DOWN.code) return new ClientError(SHUTTING_DOWN_CODE, 'the server is shutting down; reconnecting will continue');
  const cause = sessionEndCause(code);
  return new ClientError(cause ?? 'closed', `the connection closed (${code}${reason ? `: ${reason}` : ''})`);
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
  private readonly trainRequests = new Map<string, TrainWaiter>();
  private readonly jobs = new Map<string, TrainWaiter>();
  private readonly eventListeners = new Set<(event: TrainEvent) => void>();
  private readonly pushListeners = new Set<(event: PushEvent) => void>();
  private closed: ClientError | null = null;
  private readonly closeWaiters: (() => void)[] = [];

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
    transport.onClose = (code, reason) => this.shutdown(closeError(code, reason));
  }

  /** Runs the handshake over an open transport; refused unless the server holds a pinned key. */
  static connect(transport: FrameTransport, pins: Pin | readonly Pin[]): Promise<MedclassClient> {
    return new Promise((resolve, reject) => {
      transport.onClose = (code, reason) =>
        reject(
          code === closeCodeFor('unsupportedVersion')
            ? new ClientError('unsupportedVersion', `the server refused this client's protocol version (${reason || 'no reason given'})`)
            : new ClientError('closed', `the connection closed during the handshake (${code}${reason ? `: ${reason}` : ''})`),
        );
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
    for (const done of this.closeWaiters.splice(0)) done();
    this.session.close();
    for (const p of this.waiting.values()) p.reject(error);
    for (const list of this.byType.values()) for (const p of list) p.reject(error);
    for (const c of this.classifying.values()) c.fail(error);
    for (const t of this.trainRequests.values()) t.reject(error);
    this.waiting.clear();
    this.byType.clear();
    this.classifying.clear();
    this.trainRequests.clear();
    this.jobs.clear();
  }

  private deliver(m: ServerMessage): void {
    if (m.type === 'trainProgress' || m.type === 'trainDone') return this.deliverJobEvent(m);
    if (m.type === 'serviceChanged' || m.type === 'uploadDropped') {
      for (const listener of this.pushListeners) listener(m);
      return;
    }
    const requestId = 'requestId' in m ? (m.requestId as string | undefined) : undefined;
    const job = requestId ? this.trainRequests.get(requestId) : undefined;
    if (job && m.type === 'ok' && m.jobId && !job.jobId) {
      job.jobId = m.jobId;
      this.jobs.set(m.jobId, job);
      job.onStarted?.(m.jobId);
      return;
    }
    if (job && m.type === 'error') {
      // refused at once, or failed later: the job's error carries the train request's id
      this.trainRequests.delete(job.requestId);
      if (job.jobId) this.jobs.delete(job.jobId);
      return job.reject(new ClientError(m.code, m.message));
    }
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

  private deliverJobEvent(m: TrainEvent): void {
    for (const listener of this.eventListeners) listener(m);
    const job = this.jobs.get(m.jobId);
    if (!job) return;
    if (m.type === 'trainProgress') {
      job.onProgress?.(m.phase, m.done, m.total);
      if (m.epoch) job.onEpoch?.(m.epoch);
    } else {
      this.jobs.delete(m.jobId);
      this.trainRequests.delete(job.requestId);
      job.resolve({ jobId: m.jobId, report: m.report });
    }
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

  /**
   * Logs in inside the channel (docs/protocol.md section 5). The token that comes back is for
   * `resume` on a later connection; keep it where only this client can read it. A refusal
   * rejects with its code (`badCredentials`, `disabled`, `tooManyAttempts`), and this
   * connection is then not logged in, whoever it was before.
   */
  async login(username: string, password: string, deviceToken?: string): Promise<LoginResult> {
    const answer = await this.request({ type: 'login', requestId: newRequestId(), username, password, ...(deviceToken ? { deviceToken } : {}) });
    return loginResult(answer);
  }

  /** Logs in again with the token of an earlier login (a reconnect); `badToken` when it is over. */
  async resume(token: string): Promise<LoginResult> {
    return loginResult(await this.request({ type: 'resume', requestId: newRequestId(), token }));
  }

  /** Ends this login everywhere: every connection holding its token closes (4040), this one too. */
  async logout(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    await this.request({ type: 'logout', requestId: newRequestId() });
    await closed;
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
    try {
      await this.send({ type: 'classify', requestId, service, images });
    } catch (e) {
      // closed while sealing: the send's error is the one to report
      this.classifying.delete(requestId);
      done.catch(() => undefined);
      throw e;
    }
    return done;
  }

  /** A request answered by `ok` (rollback, publish, ...), matched by its id. */
  async request(message: Extract<Parameters<ClientSession['seal']>[0], { requestId: string }>): Promise<ServerMessage> {
    const answer = new Promise<ServerMessage>((resolve, reject) => this.waiting.set(message.requestId, { resolve, reject }));
    try {
      await this.send(message);
    } catch (e) {
      this.waiting.delete(message.requestId);
      answer.catch(() => undefined);
      throw e;
    }
    return answer;
  }

  /** Every trainProgress and trainDone this connection receives (of any job); returns the unsubscribe. */
  onEvent(listener: (event: TrainEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Every `serviceChanged` and `uploadDropped` the server pushes; returns the unsubscribe. */
  onPush(listener: (event: PushEvent) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** Admins: makes any kept version of a service current (back or forward). */
  async makeCurrent(service: string, version: number): Promise<void> {
    await this.request({ type: 'rollback', requestId: newRequestId(), service, version });
  }

  /** Admins: forgets a kept upload. */
  async dropUpload(uploadId: string): Promise<void> {
    await this.request({ type: 'dropUpload', requestId: newRequestId(), uploadId });
  }

  /**
   * Admins: sends a dataset ZIP (`<label>/<file>` or `<split>/<label>/<file>`) in chunks and
   * resolves with its upload id once the server has read it; refusals reject with their code.
   */
  async uploadDataset(zip: Uint8Array, options: { name?: string; files?: number; uploadId?: string; chunkBytes?: number; onProgress?(sent: number, total: number): void } = {}): Promise<string> {
    const uploadId = options.uploadId ?? `u${newRequestId()}`;
    const chunk = Math.max(1, Math.min(options.chunkBytes ?? MAX_CHUNK_BYTES, MAX_CHUNK_BYTES));
    await this.request({ type: 'uploadStart', requestId: newRequestId(), uploadId, name: options.name ?? 'dataset.zip', totalBytes: zip.length, files: Math.max(1, options.files ?? 1) });
    for (let o = 0, seq = 0; o < zip.length; o += chunk, seq++) {
      await this.send({ type: 'uploadChunk', uploadId, seq, data: zip.subarray(o, Math.min(o + chunk, zip.length)) });
      options.onProgress?.(Math.min(o + chunk, zip.length), zip.length);
    }
    await this.request({ type: 'uploadEnd', requestId: newRequestId(), uploadId });
    return uploadId;
  }

  /** Admins: trains on an upload; progress as it comes, then the report (trainDone). */
  async train(uploadId: string, spec: TrainSpec, classifier: TrainClassifier, options: TrainOptions = {}): Promise<{ jobId: string; report: MessageOf<'trainDone'>['report'] }> {
    const requestId = newRequestId();
    const done = new Promise<{ jobId: string; report: MessageOf<'trainDone'>['report'] }>((resolve, reject) => {
      this.trainRequests.set(requestId, { ...options, requestId, jobId: null, resolve, reject });
    });
    try {
      await this.send({ type: 'train', requestId, uploadId, spec, classifier, ...(options.auto ? { auto: options.auto } : {}) });
    } catch (e) {
      this.trainRequests.delete(requestId);
      done.catch(() => undefined); // the send's error is the one to report
      throw e;
    }
    return done;
  }

  /** Admins: publishes a finished job's model as a new version of a service (created if new). */
  async publish(jobId: string, service: string, options: { description?: string; privacyModes: PrivacyMode[] }): Promise<void> {
    await this.request({ type: 'publish', requestId: newRequestId(), jobId, service, description: options.description ?? '', privacyModes: options.privacyModes });
  }

  /**
   * Admins: publishes a model document trained elsewhere (the admin's browser) as a new
   * version of a service; the server checks it and classifies a probe image with it first.
   */
  async publishModel(modelText: string, service: string, options: { description?: string; privacyModes: PrivacyMode[] }): Promise<void> {
    const model = new TextEncoder().encode(modelText);
    await this.request({ type: 'publishModel', requestId: newRequestId(), service, description: options.description ?? '', privacyModes: options.privacyModes, model });
  }

  static newRequestId = newRequestId;

  close(): void {
    this.shutdown(new ClientError('closed', 'the client closed the connection'));
    this.transport.close(1000, 'bye');
  }
}
