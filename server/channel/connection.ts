import type { WebSocket } from 'ws';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { errorMessage } from '../../shared/errors.ts';
import { closeCodeFor, ProtocolError } from '../../shared/protocol/errors.ts';
import type { ServerIdentity } from '../../shared/protocol/identity.ts';
import { DEVICE_CLASSIFIERS, MAX_DEVICE_MODEL_BYTES, unpackFloat32, unpackFloat64, type ClientMessage, type MessageOf, type ServerMessage } from '../../shared/protocol/messages.ts';
import { acceptClientSession, type ServerSession } from '../../shared/protocol/session.ts';
import { SERVER_SHUTTING_DOWN, SESSION_END, SHUTTING_DOWN_CODE, type SessionEndCause } from '../../shared/protocol/session_end.ts';
import { AuthError, type AccountsService, type Session, type SessionGrant } from '../accounts/accounts.service.ts';
import type { LiveSession, SessionRegistry } from '../accounts/session_registry.ts';
import type { ImageOutcome, WireImage } from '../../shared/classify/classify_images.ts';
import type { Classifier } from '../classify/classifier_pool.ts';
import { StoreError, type Role, type Store } from '../store/store.ts';
import type { Logger } from '../log.ts';
import { serviceEntry, type ChannelHub, type PushTarget } from './hub.ts';
import type { ImageRateLimit, ServerLimits } from './limits.ts';
import type { UserShares } from './user_shares.ts';
import { ADMIN_ACCOUNT_REQUESTS, handleAccountRequest, isAccountRequest } from './account_requests.ts';
import { TrainingError, type JobSink, type TrainingJobs } from './training_jobs.ts';
import { publishModel } from './model_publish.ts';

export interface ConnectionDeps {
  identity: ServerIdentity;
  accounts: AccountsService;
  /** Live logins of this process: ended when their access ends (docs/protocol.md section 5). */
  sessions: SessionRegistry;
  store: Store;
  classifier: Classifier;
  limits: ServerLimits;
  rate: ImageRateLimit;
  /** Requests and bytes in flight per user and in all. */
  shares: UserShares;
  /** The client's address as the limits count it (behind a trusted proxy, the forwarded one). */
  address: string;
  log: Logger;
  /** Uploads, training jobs and publishing (admins). */
  training: TrainingJobs;
  /** What the server pushes to connections unasked (service changes). */
  hub: ChannelHub;
}

type Reply = ServerMessage;
/** A refusal of one request; the session stays open. */
class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ADMIN_ONLY: ReadonlySet<ClientMessage['type']> = new Set(['uploadStart', 'uploadChunk', 'uploadEnd', 'train', 'publish', 'publishModel', 'rollback', 'dropUpload']);

/**
 * One client's WebSocket: the handshake, then sealed frames carrying messages. Frames are
 * opened in order (the session queues them, as `ws` does not wait for async handlers);
 * every message is authorised on its own, not only the connection.
 */
interface LoggedIn {
  username: string;
  role: Role;
}

export class Connection implements PushTarget {
  private session: ServerSession | null = null;
  private handshaking: Promise<void> | null = null;
  private user: LoggedIn | null = null;
  /** Logged in with a one-time password: nothing but changePassword until it is changed. */
  private mustChangePassword = false;
  private live: LiveSession | null = null;
  private inFlight = 0;
  /** A model download in progress (one at a time: a document can be tens of MiB). */
  private fetchingModel = false;
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  /** Messages read and not yet answered (decrypting, or being handled). */
  private pending = 0;
  /** Set once the server drains: called when this connection has answered everything and closed. */
  private drained: (() => void) | null = null;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
  ) {
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    socket.on('close', () => this.dispose());
    socket.on('error', () => this.dispose());
    this.touch(deps.limits.handshakeMs);
  }

  get username(): string | null {
    return this.user?.username ?? null;
  }

  get role(): Role | null {
    return this.user?.role ?? null;
  }

  /** A message the server sends unasked (in order with the answers: the session seals in call order). */
  push(message: Reply): void {
    void this.send(message);
  }

  private touch(ms = this.deps.limits.idleMs): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.close(4008, this.session ? 'idle timeout' : 'handshake timeout'), ms);
  }

  /**
   * The server is shutting down: what was asked before is answered, what comes now is refused
   * (`serverShuttingDown`), and once nothing is left the connection closes with 4046 so that
   * the client reconnects elsewhere. Resolves when it is closed.
   */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    this.settle();
    return done;
  }

  private settle(): void {
    if (this.drained && this.pending === 0) this.close(SERVER_SHUTTING_DOWN.code, SERVER_SHUTTING_DOWN.reason);
  }

  private dispose(): void {
    this.drained?.();
    if (!this.closed) this.deps.training.connectionClosed(this);
    this.deps.hub.remove(this);
    this.closed = true;
    this.signOut();
    clearTimeout(this.idle);
    this.session?.close();
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.socket.close(code, reason.slice(0, 120));
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) return this.close(4010, 'frames are binary');
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!this.session) {
      if (this.handshaking) return this.close(4001, 'a frame came before the handshake finished');
      this.handshaking = this.handshake(bytes);
      return;
    }
    this.touch();
    const started = performance.now();
    this.pending++;
    // what arrived before the drain began is answered; what arrives during it is refused
    const late = this.drained !== null;
    this.session
      .open(bytes)
      .then(
        (message) => this.dispatch(message, performance.now() - started, late),
        (e: unknown) => this.fail(e),
      )
      .finally(() => {
        this.pending--;
        this.settle();
      });
  }

  private async handshake(hello: Uint8Array): Promise<void> {
    try {
      const { reply, session } = await acceptClientSession(hello, this.deps.identity);
      if (this.closed) return;
      this.session = session;
      this.socket.send(reply);
      this.touch();
      this.deps.log.debug({ session: session.id }, 'session open');
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    const code = e instanceof ProtocolError ? e.code : 'badMessage';
    this.deps.log.info({ session: this.session?.id, code }, 'session closed on a protocol error');
    this.close(closeCodeFor(code), e instanceof ProtocolError ? e.message : 'the message could not be read');
  }

  /** Seals and sends; false when the message could not be sealed (the caller then owes an error). */
  private async send(message: Reply): Promise<boolean> {
    if (this.closed || !this.session) return false;
    try {
      const frame = await this.session.seal(message);
      if (!this.closed) this.socket.send(frame);
      return true;
    } catch (e) {
      this.deps.log.warn({ session: this.session.id, type: message.type, error: errorMessage(e) }, 'could not send');
      return false;
    }
  }

  private requestIdOf(m: ClientMessage): string | undefined {
    return 'requestId' in m ? (m.requestId as string) : undefined;
  }

  private async dispatch(message: ClientMessage, decryptMs: number, late: boolean): Promise<void> {
    try {
      if (late) throw new RequestError(SHUTTING_DOWN_CODE, 'the server is shutting down; reconnect to continue');
      await this.handle(message, decryptMs);
    } catch (e) {
      const requestId = this.requestIdOf(message);
      if (e instanceof RequestError || e instanceof AuthError || e instanceof StoreError || e instanceof TrainingError) {
        await this.send({ type: 'error', ...(requestId ? { requestId } : {}), code: e.code, message: e.message });
      } else {
        this.deps.log.error({ session: this.session?.id, type: message.type, error: errorMessage(e) }, 'request failed');
        await this.send({ type: 'error', ...(requestId ? { requestId } : {}), code: 'internal', message: 'the server could not complete this request' });
      }
    }
  }

  private requireUser(): LoggedIn {
    if (!this.user) throw new RequestError('unauthenticated', 'log in first');
    return this.user;
  }

  /** Not logged in any more (a failed or replaced login, the end of the connection). */
  private signOut(): void {
    this.deps.hub.remove(this);
    if (this.live) this.deps.sessions.remove(this.live);
    this.live = null;
    this.user = null;
  }

  private signIn(session: Session): void {
    this.signOut();
    const grant: SessionGrant = session.grant;
    this.user = session.user;
    this.mustChangePassword = session.mustChangePassword === true;
    this.live = { grant, end: (cause) => this.end(cause) };
    this.deps.sessions.add(this.live);
  }

  /** The login this connection held is over: close with the cause's own code. */
  private end(cause: SessionEndCause): void {
    this.deps.log.info({ session: this.session?.id, cause }, 'session ended');
    this.live = null;
    this.user = null;
    this.close(SESSION_END[cause].code, SESSION_END[cause].reason);
  }

  /**
   * login, resume, logout (docs/protocol.md section 5). Any login attempt first ends the
   * login this connection held: a failure leaves it logged out, a success switches user.
   */
  private async authenticate(message: MessageOf<'login'> | MessageOf<'resume'> | MessageOf<'logout'>): Promise<unknown> {
    if (message.type === 'logout') {
      const live = this.requireLive();
      this.audit('logout', 'ok');
      await this.send({ type: 'ok', requestId: message.requestId });
      // every connection holding this token closes, this one included (4040)
      await this.deps.accounts.endLogin(live.grant);
      return;
    }
    this.signOut();
    const action = message.type;
    let session: Session;
    try {
      session =
        message.type === 'login'
          ? await this.deps.accounts.login(message.username, message.password, { address: this.deps.address, ...(message.deviceToken ? { deviceToken: message.deviceToken } : {}) })
          : await this.deps.accounts.resume(message.token);
    } catch (e) {
      if (e instanceof AuthError) {
        // a name that is no user's is not kept: it may be a password typed in the wrong field
        this.auditAs(action, e.code, message.type === 'login' ? await this.deps.accounts.auditName(message.username) : null);
      }
      throw e;
    }
    if (this.closed) return;
    this.signIn(session);
    this.audit(action, 'ok');
    const answered = await this.send({
      type: 'loggedIn',
      requestId: message.requestId,
      user: session.user.username,
      role: session.user.role,
      token: session.token,
      expiresAt: session.expiresAt,
      ...(session.deviceToken ? { deviceToken: session.deviceToken } : {}),
      ...(session.mustChangePassword ? { mustChangePassword: true } : {}),
    });
    // service changes are pushed from now on, after the answer that says who is logged in
    if (!this.closed) this.deps.hub.add(this);
    return answered;
  }

  private requireLive(): LiveSession {
    this.requireUser();
    return this.live!;
  }

  private async handle(message: ClientMessage, decryptMs: number): Promise<unknown> {
    if (message.type === 'login' || message.type === 'resume' || message.type === 'logout') return this.authenticate(message);
    const user = this.requireUser();
    // after an admin's reset, the one-time password is good for changing it and nothing else
    if (this.mustChangePassword && message.type !== 'changePassword') {
      throw new RequestError('passwordChangeRequired', 'choose a new password first (changePassword)');
    }
    if ((ADMIN_ONLY.has(message.type) || ADMIN_ACCOUNT_REQUESTS.has(message.type)) && user.role !== 'admin') {
      this.audit(message.type, 'forbidden');
      throw new RequestError('forbidden', `${message.type} is for admins`);
    }
    if (isAccountRequest(message)) {
      return handleAccountRequest(message, {
        user,
        accounts: this.deps.accounts,
        store: this.deps.store,
        send: (m) => this.send(m),
        // as this user even when the change just ended this connection's login (a password change)
        audit: (action, outcome, detail) => this.auditAs(action, outcome, user.username, undefined, undefined, detail),
      });
    }
    switch (message.type) {
      case 'listServices':
        return this.send({ type: 'services', services: await this.services() });
      case 'classify':
        return this.classify(message, decryptMs);
      case 'uploadStart':
        this.deps.training.startUpload(user.username, this, message);
        return this.send({ type: 'ok', requestId: message.requestId });
      case 'uploadChunk':
        // no answer unless refused (the refusal has no requestId; uploadEnd repeats it)
        return this.deps.training.chunk(user.username, message);
      case 'uploadEnd':
        await this.deps.training.endUpload(user.username, message);
        return this.send({ type: 'ok', requestId: message.requestId });
      case 'train': {
        const job = this.deps.training.train(user.username, message, this.jobSink(message.requestId));
        this.deps.log.info({ user: user.username, job: job.jobId, classifier: message.classifier.kind }, 'training job started');
        // `ok {jobId}` is sealed first; the job's progress follows it
        const answered = this.send({ type: 'ok', requestId: message.requestId, jobId: job.jobId });
        job.start();
        return answered;
      }
      case 'publish': {
        await this.deps.training.publish(user.username, message);
        const answered = await this.send({ type: 'ok', requestId: message.requestId, jobId: message.jobId });
        void this.deps.hub.servicesChanged();
        return answered;
      }
      case 'publishModel': {
        const { store, classifier, limits, log } = this.deps;
        await publishModel(user.username, message, { store, classifier, limits, log, audit: (...a) => this.audit(...a) });
        const answered = await this.send({ type: 'ok', requestId: message.requestId });
        void this.deps.hub.servicesChanged();
        return answered;
      }
      case 'rollback': {
        // any kept version, older or newer than the current one
        const from = (await this.deps.store.findService(message.service))?.currentVersion;
        const s = await this.deps.store.makeCurrent(message.service, message.version, user.username);
        this.deps.log.info({ user: user.username, service: message.service, from, version: message.version }, 'current version changed');
        this.audit('rollback', 'ok', message.service, message.version, { previousVersion: from ?? 0, modes: s.privacyModes.join(',') });
        const answered = await this.send({ type: 'ok', requestId: message.requestId });
        void this.deps.hub.servicesChanged();
        return answered;
      }
      case 'dropUpload':
        this.deps.training.dropUpload(user.username, message.uploadId);
        return this.send({ type: 'ok', requestId: message.requestId });
      case 'fetchModel':
        return this.fetchModel(message);
      default:
        throw new RequestError('notImplemented', `${(message as { type: string }).type} is not served yet`);
    }
  }

  /** A job's progress and outcome come back on this connection, in order, while it is open. */
  private jobSink(requestId: string): JobSink {
    let chain = Promise.resolve();
    const queue = (m: Reply) => {
      chain = chain.then(() => this.send(m)).then(() => undefined);
    };
    return {
      progress: (m) => queue(m),
      done: (m) => queue(m),
      failed: (code, message) => queue({ type: 'error', requestId, code, message }),
    };
  }

  /** Each service's current version; admins also get every kept version. */
  private async services(): Promise<MessageOf<'services'>['services']> {
    const admin = this.user?.role === 'admin';
    const entries = await Promise.all(
      (await this.deps.store.listServices()).map((s) =>
        serviceEntry(s, this.deps.classifier, admin).catch((e: unknown) => {
          // one model this release cannot read (a newer one's, in a shared database) must not hide the others
          if (!(e instanceof ClassifyError)) throw e;
          this.deps.log.warn({ service: s.name, version: s.currentVersion, error: e.message }, 'service left out of the list: its current model cannot be read');
          return undefined;
        }),
      ),
    );
    return entries.flatMap((e) => e ?? []);
  }

  private audit(action: string, outcome: string, service?: string, modelVersion?: number, detail?: Record<string, number | string | boolean>): Promise<void> {
    return this.auditAs(action, outcome, this.user?.username ?? null, service, modelVersion, detail);
  }

  /** Resolves once the row is committed; never rejects (a row that could not be written is logged). */
  private auditAs(action: string, outcome: string, user: string | null, service?: string, modelVersion?: number, detail?: Record<string, number | string | boolean>): Promise<void> {
    return this.deps.store
      .audit({ at: new Date().toISOString(), user, action, service: service ?? null, modelVersion: modelVersion ?? null, outcome, detail: detail ?? null })
      .catch((e: unknown) => this.deps.log.error({ action, outcome, error: errorMessage(e) }, 'an audit row could not be written'));
  }

  /**
   * The current version's model document for the device (docs/protocol.md, "Models on the
   * device"): only where that version allows `device`, and only for a classifier the app can
   * run. Audited either way.
   */
  private async fetchModel(message: MessageOf<'fetchModel'>): Promise<unknown> {
    const service = await this.deps.store.findService(message.service);
    if (!service) throw new RequestError('unknownService', `no service named ${message.service}`);
    const version = service.currentVersion;
    // the refusal's row is committed before the answer, as a classification's is
    const refuse = async (code: string, text: string): Promise<never> => {
      await this.audit('deviceModel', code, service.name, version);
      throw new RequestError(code, text);
    };
    if (!service.privacyModes.includes('device')) {
      return refuse('modeNotAllowed', `service ${service.name} (version ${version}) is not allowed on devices: an admin allows it per version with the device mode`);
    }
    if (this.fetchingModel) return refuse('busy', 'one model download at a time per connection');
    this.fetchingModel = true;
    try {
      const unreadable = () => new RequestError('unavailable', `the model of ${service.name} version ${version} cannot be read now; try again later`);
      const [summary, stored] = await Promise.all([
        // a model this server cannot read (a newer format) is no more for the device than for the server
        this.deps.classifier.describe(service.name, version).catch(() => {
          throw unreadable();
        }),
        this.deps.store.model(service.name, version),
      ]);
      if (!summary || !stored) throw unreadable();
      const classifier = (DEVICE_CLASSIFIERS as readonly string[]).includes(summary.classifier) ? (summary.classifier as (typeof DEVICE_CLASSIFIERS)[number]) : null;
      if (!classifier) return await refuse('unsupportedModel', `service ${service.name} is a ${summary.classifier} model, which this app cannot run on a device; classify through the server`);
      const document = new TextEncoder().encode(stored.model);
      if (document.length > MAX_DEVICE_MODEL_BYTES) {
        return await refuse('tooLarge', `the model of ${service.name} is ${Math.ceil(document.length / 2 ** 20)} MiB, more than a device download allows (${MAX_DEVICE_MODEL_BYTES / 2 ** 20} MiB); classify through the server`);
      }
      await this.audit('deviceModel', 'ok', service.name, version, { bytes: document.length, classifier });
      return await this.send({ type: 'deviceModel', requestId: message.requestId, service: service.name, version, classifier, document });
    } finally {
      this.fetchingModel = false;
    }
  }

  private async classify(message: MessageOf<'classify'>, decryptMs: number): Promise<void> {
    const user = this.user!;
    const service = await this.deps.store.findService(message.service);
    if (!service) throw new RequestError('unknownService', `no service named ${message.service}`);
    const refused = message.images.find((img) => !service.privacyModes.includes(img.mode));
    if (refused) throw new RequestError('modeNotAllowed', `service ${service.name} does not accept ${refused.mode} images (it accepts ${imageModesOf(service.privacyModes)})`);
    if (this.inFlight >= this.deps.limits.concurrentPerConnection) {
      throw new RequestError('busy', `at most ${this.deps.limits.concurrentPerConnection} requests at once per connection`);
    }
    const share = this.deps.shares.take(user.username, message.images.reduce((n, img) => n + imageBytes(img), 0));
    if (!share.ok) throw new RequestError('busy', share.reason);
    let allowed: boolean;
    try {
      allowed = await this.deps.rate.take(user.username, message.images.length);
    } catch (e) {
      share.release();
      throw e;
    }
    if (!allowed) {
      share.release();
      this.audit('classify', 'rateLimited', service.name, service.currentVersion);
      throw new RequestError('rateLimited', `more than ${this.deps.limits.imagesPerMinute} images a minute; slow down`);
    }
    // A wrong byte count spoils that image only, not the session and the requests in flight on it.
    const malformed = new Map<number, ImageOutcome>();
    const images: WireImage[] = [];
    const positions: number[] = [];
    for (const [i, img] of message.images.entries()) {
      const planes = img.mode === 'reduced' && img.data.channels === 3 ? 4 : 1;
      if (img.mode === 'reduced' && img.data.pixels.length !== 4 * planes * img.data.width * img.data.height) {
        const values = planes * img.data.width * img.data.height;
        const what = planes === 4 ? `4 planes (grey, R, G, B) of width x height = ${values} float32 values` : `width x height = ${values} float32 values`;
        malformed.set(i, { ok: false, code: 'badImage', message: `reduced pixels must be ${what} (${4 * values} bytes); ${img.data.pixels.length} bytes were sent` });
      } else if (img.mode === 'features' && img.data.vector.length % 8 !== 0) {
        malformed.set(i, { ok: false, code: 'badImage', message: `a feature vector is whole float64 values (a multiple of 8 bytes); ${img.data.vector.length} bytes were sent` });
      } else {
        positions.push(i);
        images.push(
          img.mode === 'original'
            ? { mode: 'original', data: img.data }
            : img.mode === 'reduced'
              ? { mode: 'reduced', width: img.data.width, height: img.data.height, channels: img.data.channels ?? 1, pixels: unpackFloat32(img.data.pixels) }
              : { mode: 'features', vector: unpackFloat64(img.data.vector) },
        );
      }
    }
    this.inFlight++;
    try {
      const version = service.currentVersion;
      const classified = images.length ? await this.deps.classifier.classify(service.name, version, images, user.username) : [];
      const outcomes: ImageOutcome[] = message.images.map((_, i) => malformed.get(i)!);
      classified.forEach((o, k) => (outcomes[positions[k]!] = o));
      const total = { decodeMs: 0, extractMs: 0, classifyMs: 0 };
      for (const o of outcomes) {
        if (!o.ok) continue;
        total.decodeMs += o.timings.decodeMs;
        total.extractMs += o.timings.extractMs;
        total.classifyMs += o.timings.classifyMs;
      }
      const failed = outcomes.filter((o) => !o.ok).length;
      // No answer goes out before its audit row is committed: a crash after this loses no row of an answer a client received.
      const recorded = await this.deps.store
        .audit({
          at: new Date().toISOString(),
          user: user.username,
          action: 'classify',
          service: service.name,
          modelVersion: version,
          outcome: failed ? (failed === outcomes.length ? 'failed' : 'partial') : 'ok',
          detail: {
            images: outcomes.length,
            failed,
            mode: message.images[0]!.mode,
            decryptMs: round(decryptMs),
            decodeMs: round(total.decodeMs),
            extractMs: round(total.extractMs),
            classifyMs: round(total.classifyMs),
          },
        })
        .then(
          () => true,
          (e: unknown) => {
            this.deps.log.error({ service: service.name, error: errorMessage(e) }, 'a classification could not be recorded in the audit trail; its answers are withheld');
            return false;
          },
        );
      for (const [index, o] of outcomes.entries()) {
        if (!recorded) {
          await this.send({ type: 'error', requestId: message.requestId, index, code: 'unavailable', message: 'the server could not record this request, so it gives no answer; try again in a moment' });
        } else if (o.ok) {
          const sent = await this.send({
            type: 'result',
            requestId: message.requestId,
            index,
            label: o.label,
            scores: o.scores,
            modelVersion: version,
            timings: { decryptMs: decryptMs / outcomes.length, ...o.timings },
          });
          if (!sent) await this.send({ type: 'error', requestId: message.requestId, index, code: 'internal', message: 'the result could not be sent' });
        } else {
          await this.send({ type: 'error', requestId: message.requestId, index, code: o.code, message: o.message });
        }
      }
    } finally {
      this.inFlight--;
      share.release();
    }
  }
}

const imageBytes = (img: MessageOf<'classify'>['images'][number]): number =>
  img.mode === 'original' ? img.data.length : img.mode === 'reduced' ? img.data.pixels.length : img.data.vector.length;

/** The image modes among a version's privacy modes, for a refusal's words. */
const imageModesOf = (modes: readonly string[]): string => modes.filter((m) => m !== 'device').join(', ') || 'no images: it runs on devices only';

const round = (ms: number) => Math.round(ms * 1000) / 1000;
