import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { DEFAULT_SETTINGS, type TrainSettings } from '../../shared/classify/train.ts';
import { errorMessage, MedclassError } from '../../shared/errors.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import type { MessageOf, ServerMessage } from '../../shared/protocol/messages.ts';
import type { Logger } from '../log.ts';
import type { ModelVersion, Store, TrainingJobStatus } from '../store/store.ts';
import { trainingReport } from '../training/train_report.ts';
import type { AutoOptions } from '../training/auto_model.ts';
import { DEFAULT_CNN_PARAMS } from '../../shared/classify/cnn/train_model.ts';
import { trainDataset, type DatasetItem, type TrainPhase } from '../training/train_dataset.ts';
import { UnzipPool } from '../training/unzip_pool.ts';
import { ZipError } from '../training/zip_dataset.ts';
import type { ServerLimits } from './limits.ts';

/**
 * The admins' training flow over the channel: a dataset ZIP uploaded in chunks (held in memory
 * only, never written to disk), a training job on it (features on worker threads, the fit on
 * its own thread), progress and the report streamed back, and publishing the trained model as a
 * new version of a service. One job runs at a time on a server.
 *
 * A received upload is kept for further trainings (other settings on the same set) until its
 * owner drops it, uploads another, leaves it unused for the idle time, or the memory cap on
 * all admins' kept uploads needs its room (the least recently used goes first); the server
 * then tells the owner (`uploadDropped`).
 */

/** A refusal with a code and a message in words; the session stays open. */
export class TrainingError extends Error {
  override name = 'TrainingError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where a job's progress and outcome go: the connection that started it (while it is open). */
export interface JobSink {
  progress(message: MessageOf<'trainProgress'>): void;
  done(message: MessageOf<'trainDone'>): void;
  failed(code: string, message: string): void;
}

interface Upload {
  id: string;
  owner: string;
  name: string;
  /** The connection that sends its chunks; an unfinished upload dies with it. */
  connection: object;
  state: 'receiving' | 'unpacking' | 'ready';
  declared: number;
  /** What has come, in blocks allocated as it comes (the last one partly filled). */
  blocks: Uint8Array[] | null;
  /** Bytes used in the last block. */
  fill: number;
  received: number;
  nextSeq: number;
  failure: TrainingError | null;
  items: DatasetItem[] | null;
  layout: 'classes' | 'splits';
  warnings: string[];
  /** What its images take in memory, inflated (once ready). */
  bytes: number;
  /** Training jobs running on it now: it is not dropped for the cap or the idle time meanwhile. */
  inUse: number;
  touched: number;
}

interface Job {
  id: string;
  owner: string;
  state: 'running' | 'done';
  modelText: string | null;
  labels: string[];
  touched: number;
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
/**
 * An upload is held in blocks of this size, each allocated when its first byte arrives: a
 * declared size (up to 512 MiB) reserves nothing, and tiny chunks cost no more than big ones.
 */
const BLOCK_BYTES = 2 ** 20;
/** Progress messages at most this often per phase (the first and the last always go). */
const PROGRESS_MS = 100;
/** Finished jobs kept for publishing (the oldest go first). */
const KEEP_JOBS = 8;

export interface TrainingDeps {
  store: Store;
  limits: ServerLimits;
  log: Logger;
  /** Extraction threads (one per core by default). */
  threads?: number | undefined;
  /** Tells a user's connections something unasked (an upload dropped). */
  notify?: (owner: string, message: ServerMessage) => void;
  /** This instance's name in the `training_jobs` table (a new one each start by default). */
  instance?: string;
  /** How often this instance's running jobs are marked alive, and stale ones looked for. */
  heartbeatMs?: number;
  /** A running job not marked alive for this long is failed: the instance running it stopped. */
  staleMs?: number;
}

export const INSTANCE_STOPPED = 'the instance running it stopped';
/** A finished job's row is history after its upload (and model) are gone: a day is kept for admins to look back on. */
const FINISHED_JOBS_KEPT_MS = 24 * 60 * 60 * 1000;

export class TrainingJobs {
  private readonly uploads = new Map<string, Upload>();
  private readonly jobs = new Map<string, Job>();
  private running: Job | null = null;
  private readonly sweeper: NodeJS.Timeout;
  private readonly abort = new AbortController();
  /** Where uploads are inflated: a worker thread, never the event loop. */
  readonly unzip = new UnzipPool();
  readonly instance: string;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly staleMs: number;
  /** The first heartbeat and look for stale jobs (at start-up), for whoever wants to wait for it. */
  readonly ready: Promise<void>;

  constructor(private readonly deps: TrainingDeps) {
    const idle = deps.limits.upload.idleMs;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(60_000, idle / 4)));
    this.sweeper.unref();
    this.instance = deps.instance ?? `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`;
    this.staleMs = deps.staleMs ?? 30_000;
    this.heartbeat = setInterval(() => void this.beat(), deps.heartbeatMs ?? 5_000);
    this.heartbeat.unref();
    this.ready = this.beat();
  }

  /** Marks this instance's running jobs alive, then fails those whose instance stopped (any instance may find them). */
  private async beat(): Promise<void> {
    try {
      const now = Date.now();
      await this.deps.store.heartbeatTrainingJobs(this.instance, now);
      const failed = await this.deps.store.failStaleTrainingJobs(now - this.staleMs, INSTANCE_STOPPED);
      if (failed.length) this.deps.log.warn({ jobs: failed }, 'training jobs marked failed: the instance running them stopped');
      await this.deps.store.pruneTrainingJobs(now - FINISHED_JOBS_KEPT_MS);
    } catch (e) {
      this.deps.log.warn({ error: errorMessage(e) }, 'training jobs could not be marked alive; trying again');
    }
  }

  /** Writes a job's status where every instance sees it; never rejects (a failure is logged, the job goes on). */
  private async record(job: Job, status: TrainingJobStatus, error: string | null = null): Promise<void> {
    try {
      await this.deps.store.putTrainingJob({ id: job.id, owner: job.owner, instance: this.instance, status, heartbeatAt: Date.now(), error });
    } catch (e) {
      this.deps.log.warn({ job: job.id, status, error: errorMessage(e) }, 'a training job\'s status could not be written');
    }
  }

  private key(owner: string, uploadId: string): string {
    return `${owner}\u0000${uploadId}`;
  }

  /** Resolves once written; never rejects (a row that could not be written is logged). */
  private audit(user: string, action: string, outcome: string, detail: Record<string, number | string | boolean> | null = null, service: string | null = null, modelVersion: number | null = null): Promise<void> {
    return this.deps.store
      .audit({ at: new Date().toISOString(), user, action, service, modelVersion, outcome, detail })
      .catch((e: unknown) => this.deps.log.error({ action, outcome, error: errorMessage(e) }, 'an audit row could not be written'));
  }

  private minutes(): number {
    return Math.round(this.deps.limits.upload.idleMs / 60_000);
  }

  /** Drops a kept upload unasked, and tells its owner why. */
  private evict(k: string, u: Upload, reason: 'expired' | 'memory'): void {
    this.uploads.delete(k);
    u.items = null;
    const message =
      reason === 'expired'
        ? `The training set ${u.name} was not used for ${this.minutes()} minutes, so the server let it go. Upload it again to train on it.`
        : `The training set ${u.name} was dropped to make room for a newer upload (the server keeps ${MiB(this.deps.limits.upload.keepBytes)} of training sets for all admins). Upload it again to train on it.`;
    this.audit(u.owner, 'upload', reason === 'expired' ? 'expired' : 'droppedForMemory', { bytes: u.bytes });
    this.deps.log.info({ user: u.owner, reason, bytes: u.bytes }, 'kept upload dropped');
    this.deps.notify?.(u.owner, { type: 'uploadDropped', uploadId: u.id, reason, message });
  }

  /** Drops what nobody touched for the idle time: unfinished and unused uploads, finished jobs. */
  sweep(now = Date.now()): void {
    const idle = this.deps.limits.upload.idleMs;
    for (const [k, u] of this.uploads) {
      if (u.state === 'unpacking' || u.inUse || now - u.touched <= idle) continue;
      if (u.state === 'ready') this.evict(k, u, 'expired');
      else {
        this.uploads.delete(k);
        this.deps.log.info({ user: u.owner, state: u.state }, 'idle upload dropped');
      }
    }
    for (const [id, j] of this.jobs) if (j.state === 'done' && now - j.touched > idle) this.jobs.delete(id);
  }

  /** A connection closed: its unfinished uploads cannot be finished any more. */
  connectionClosed(connection: object): void {
    for (const [k, u] of this.uploads) if (u.connection === connection && u.state === 'receiving') this.uploads.delete(k);
  }

  startUpload(owner: string, connection: object, m: MessageOf<'uploadStart'>): void {
    const limits = this.deps.limits.upload;
    if (m.totalBytes === 0) throw new TrainingError('badUpload', 'an upload needs at least one byte');
    if (m.totalBytes > limits.maxBytes) {
      this.audit(owner, 'upload', 'uploadTooLarge', { bytes: m.totalBytes });
      throw new TrainingError('uploadTooLarge', `the upload would be ${MiB(m.totalBytes)}; at most ${MiB(limits.maxBytes)} are accepted`);
    }
    if (m.files > limits.maxEntries) throw new TrainingError('uploadTooLarge', `the upload would hold ${m.files} files; at most ${limits.maxEntries} are accepted`);
    const mine = [...this.uploads.values()].filter((u) => u.owner === owner);
    const active = mine.find((u) => u.state !== 'ready');
    if (active) throw new TrainingError('conflict', `upload ${active.id} is still ${active.state}; one upload at a time (finish it, or close its connection)`);
    if (this.uploads.has(this.key(owner, m.uploadId))) throw new TrainingError('conflict', `upload ${m.uploadId} exists; use another id`);
    this.uploads.set(this.key(owner, m.uploadId), {
      id: m.uploadId,
      owner,
      name: m.name,
      connection,
      state: 'receiving',
      declared: m.totalBytes,
      blocks: [],
      fill: 0,
      received: 0,
      nextSeq: 0,
      failure: null,
      items: null,
      layout: 'classes',
      warnings: [],
      bytes: 0,
      inUse: 0,
      touched: Date.now(),
    });
  }

  /** A chunk: in order, never past the declared size. A refusal ends the upload (uploadEnd says why). */
  chunk(owner: string, m: MessageOf<'uploadChunk'>): void {
    const u = this.uploads.get(this.key(owner, m.uploadId));
    if (!u || u.state !== 'receiving') throw new TrainingError('notFound', `no upload ${m.uploadId} is being received`);
    if (u.failure) return; // already refused; uploadEnd reports it
    u.touched = Date.now();
    const fail = (e: TrainingError) => {
      u.failure = e;
      u.blocks = null;
      throw e;
    };
    if (m.seq !== u.nextSeq) fail(new TrainingError('badUpload', `upload ${u.id}: chunk ${m.seq} came where chunk ${u.nextSeq} was expected; chunks go in order from 0`));
    if (u.received + m.data.length > u.declared) {
      fail(new TrainingError('uploadTooLarge', `upload ${u.id}: more than the ${u.declared} bytes declared at uploadStart`));
    }
    const blocks = u.blocks!;
    let data = m.data;
    while (data.length) {
      let last = blocks.at(-1);
      if (!last || u.fill === last.length) {
        last = new Uint8Array(Math.min(BLOCK_BYTES, u.declared - u.received));
        blocks.push(last);
        u.fill = 0;
      }
      const n = Math.min(data.length, last.length - u.fill);
      last.set(data.subarray(0, n), u.fill);
      u.fill += n;
      u.received += n;
      data = data.subarray(n);
    }
    u.nextSeq++;
  }

  /** The last chunk is in: the ZIP is read (limits checked, images inflated) and held for `train`. */
  async endUpload(owner: string, m: MessageOf<'uploadEnd'>): Promise<{ images: number }> {
    const k = this.key(owner, m.uploadId);
    const u = this.uploads.get(k);
    if (!u) throw new TrainingError('notFound', `no upload ${m.uploadId}`);
    if (u.state !== 'receiving') throw new TrainingError('conflict', `upload ${m.uploadId} has already ended`);
    if (u.failure) {
      this.uploads.delete(k);
      this.audit(owner, 'upload', u.failure.code);
      throw u.failure;
    }
    if (u.received !== u.declared) {
      this.uploads.delete(k);
      this.audit(owner, 'upload', 'incomplete', { bytes: u.received });
      throw new TrainingError('badUpload', `upload ${u.id} ended after ${u.received} of the ${u.declared} bytes declared`);
    }
    u.state = 'unpacking';
    const blocks = u.blocks!;
    u.blocks = null;
    const bytes = u.received;
    const started = performance.now();
    try {
      const limits = this.deps.limits;
      const dataset = await this.unzip.read(blocks, { maxEntries: limits.upload.maxEntries, maxTotalBytes: limits.upload.maxUncompressedBytes, maxEntryBytes: limits.decode.maxBytes });
      if (this.uploads.get(k) !== u) throw new TrainingError('notFound', `upload ${u.id} was dropped`);
      Object.assign(u, { state: 'ready', items: dataset.items, layout: dataset.layout, warnings: dataset.warnings, bytes: dataset.bytes, touched: Date.now() });
      // an admin keeps one training set: the new one replaces the last (unless a job still trains on it)
      for (const [ok, other] of this.uploads) if (other !== u && other.owner === owner && other.state === 'ready' && !other.inUse) this.uploads.delete(ok);
      this.makeRoom(u);
      const ms = Math.round(performance.now() - started);
      this.audit(owner, 'upload', 'ok', { bytes, images: dataset.items.length, inflatedBytes: dataset.bytes, unzipMs: ms });
      this.deps.log.info({ user: owner, bytes, images: dataset.items.length, ms }, 'dataset uploaded');
      return { images: dataset.items.length };
    } catch (e) {
      this.uploads.delete(k);
      const refusal = asTrainingError(e);
      this.audit(owner, 'upload', refusal?.code ?? 'failed', { bytes });
      throw refusal ?? e;
    }
  }

  /** Drops the least recently used kept uploads (never `keep`, nor one in use) until all fit the cap. */
  private makeRoom(keep: Upload): void {
    const cap = this.deps.limits.upload.keepBytes;
    const ready = [...this.uploads.entries()].filter(([, u]) => u.state === 'ready').sort(([, a], [, b]) => a.touched - b.touched);
    let total = ready.reduce((n, [, u]) => n + u.bytes, 0);
    for (const [k, u] of ready) {
      if (total <= cap) break;
      if (u === keep || u.inUse) continue;
      total -= u.bytes;
      this.evict(k, u, 'memory');
    }
  }

  /** The owner drops a kept upload (a job training on it finishes first). */
  dropUpload(owner: string, uploadId: string): void {
    const k = this.key(owner, uploadId);
    const u = this.uploads.get(k);
    if (!u) throw new TrainingError('notFound', `no upload ${uploadId}`);
    if (u.state === 'unpacking') throw new TrainingError('conflict', `upload ${uploadId} is still being unpacked; drop it when it is ready`);
    this.uploads.delete(k);
    if (!u.inUse) u.items = null;
    this.audit(owner, 'upload', 'dropped', { bytes: u.bytes });
  }

  /**
   * A job on a received upload, which stays kept for further jobs. The job holds the server's
   * one training slot from now; `start` runs it (after the caller has answered).
   */
  train(owner: string, m: MessageOf<'train'>, sink: JobSink): { jobId: string; start(): void } {
    const k = this.key(owner, m.uploadId);
    const u = this.uploads.get(k);
    if (!u) throw new TrainingError('notFound', `no upload ${m.uploadId} (an upload is kept until you drop it or upload another, for ${this.minutes()} minutes unused, or until the server needs its memory for newer ones)`);
    if (u.state !== 'ready') throw new TrainingError('conflict', `upload ${m.uploadId} is still ${u.state}; send uploadEnd first`);
    if (this.running) throw new TrainingError('busy', 'a training job is running on this server; one at a time, try again when it is done');
    const settings = settingsFor(m.classifier);
    u.inUse++;
    u.touched = Date.now();
    const job: Job = { id: `job-${randomBytes(9).toString('base64url')}`, owner, state: 'running', modelText: null, labels: [], touched: Date.now() };
    this.running = job;
    this.jobs.set(job.id, job);
    void this.record(job, 'running');
    const spec = parseFeatureSpec(m.spec);
    return { jobId: job.id, start: () => void this.run(job, u, spec, settings, m.classifier, sink, m.auto ? searchFor(m.auto, spec, this.deps.threads) : undefined) };
  }

  private async run(
    job: Job,
    u: Upload,
    spec: FeatureSpec,
    settings: (d: number) => TrainSettings,
    classifier: MessageOf<'train'>['classifier'],
    sink: JobSink,
    search: AutoOptions | undefined,
  ): Promise<void> {
    const started = performance.now();
    const last = new Map<string, number>();
    const progress = (phase: TrainPhase, done: number, total: number) => {
      const now = performance.now();
      if (done !== 0 && done !== total && now - (last.get(phase) ?? 0) < PROGRESS_MS) return;
      last.set(phase, now);
      sink.progress({ type: 'trainProgress', jobId: job.id, phase, done, total });
    };
    try {
      const result = await trainDataset(
        u.items!,
        spec,
        settings,
        {
          onProgress: progress,
          onEpoch: (r) =>
            sink.progress({
              type: 'trainProgress',
              jobId: job.id,
              phase: 'fitting',
              done: r.epoch,
              total: r.epochs,
              epoch: { epoch: r.epoch, epochs: r.epochs, loss: r.loss, accuracy: r.accuracy, valLoss: r.valLoss, valAccuracy: r.valAccuracy, valAuc: r.valAuc },
            }),
        },
        {
          name: 'the upload',
          layout: u.layout,
          fitOn: 'worker',
          alwaysWorkers: true,
          limits: this.deps.limits.decode,
          signal: this.abort.signal,
          ...(this.deps.threads ? { threads: this.deps.threads } : {}),
          ...(search ? { search } : {}),
        },
      );
      job.state = 'done';
      job.modelText = result.modelText;
      job.labels = result.labels;
      job.touched = Date.now();
      const report = trainingReport(result, { jobId: job.id, classifier, uploadWarnings: u.warnings });
      const t = result.timings;
      this.audit(job.owner, 'train', 'ok', {
        images: Object.values(result.counts).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0),
        classes: result.labels.length,
        classifier: result.outcome.params.type,
        extractMs: Math.round(t.extractMs),
        fitMs: Math.round(t.fitMs),
      });
      this.deps.log.info({ user: job.owner, job: job.id, ms: Math.round(performance.now() - started), extractMs: Math.round(t.extractMs), fitMs: Math.round(t.fitMs) }, 'training job done');
      await this.record(job, 'done');
      sink.done({ type: 'trainDone', jobId: job.id, report });
      this.keepRecentJobs();
    } catch (e) {
      this.jobs.delete(job.id);
      const refusal = asTrainingError(e);
      void this.record(job, 'failed', refusal?.message ?? 'the training job failed on the server');
      this.audit(job.owner, 'train', refusal?.code ?? 'failed');
      if (refusal) sink.failed(refusal.code, refusal.message);
      else {
        this.deps.log.error({ user: job.owner, job: job.id, error: e instanceof Error ? e.message : String(e) }, 'training job failed');
        sink.failed('internal', 'the training job failed on the server');
      }
    } finally {
      u.inUse--;
      u.touched = Date.now();
      // dropped while this job ran: its images go now
      if (!u.inUse && this.uploads.get(this.key(u.owner, u.id)) !== u) u.items = null;
      if (this.running === job) this.running = null;
    }
  }

  private keepRecentJobs(): void {
    const done = [...this.jobs.values()].filter((j) => j.state === 'done').sort((a, b) => a.touched - b.touched);
    for (const j of done.slice(0, Math.max(0, done.length - KEEP_JOBS))) this.jobs.delete(j.id);
  }

  /** Stores a finished job's model as a new version of a service (made current in one transaction). */
  async publish(owner: string, m: MessageOf<'publish'>): Promise<ModelVersion> {
    const job = this.jobs.get(m.jobId);
    if (!job || job.owner !== owner) await this.refuseForeign(owner, m.jobId);
    if (!job || job.owner !== owner) throw new TrainingError('notFound', `no finished training job ${m.jobId} of yours (jobs are kept ${Math.round(this.deps.limits.upload.idleMs / 60_000)} minutes)`);
    if (job.state !== 'done' || !job.modelText) throw new TrainingError('conflict', `job ${m.jobId} is still training; publish it after trainDone`);
    const v = await this.deps.store.publish({ service: m.service, description: m.description, privacyModes: m.privacyModes, model: job.modelText, createdBy: owner });
    job.touched = Date.now();
    await this.record(job, 'published');
    await this.audit(owner, 'publish', 'ok', { via: 'channel' }, m.service, v.version);
    this.deps.log.info({ user: owner, service: m.service, version: v.version }, 'model published');
    return v;
  }

  /** A job this instance does not hold: says why plainly when the database knows it (another instance's, or failed). */
  private async refuseForeign(owner: string, jobId: string): Promise<void> {
    let known;
    try {
      known = (await this.deps.store.listTrainingJobs(owner)).find((j) => j.id === jobId);
    } catch {
      return; // the usual notFound answer follows
    }
    if (!known) return;
    if (known.status === 'failed') throw new TrainingError('conflict', `job ${jobId} failed (${known.error ?? 'no reason given'}); train it again`);
    if (known.instance !== this.instance) {
      throw new TrainingError('conflict', `job ${jobId} was trained on another server instance, which holds its model; publish it from the connection that trained it, or train it again`);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    void this.unzip.close();
    this.abort.abort();
    this.uploads.clear();
    this.jobs.clear();
  }
}

/** The problems a user can fix, as refusals with their codes; anything else is the server's. */
function asTrainingError(e: unknown): TrainingError | null {
  if (e instanceof TrainingError) return e;
  if (e instanceof ZipError || e instanceof ClassifyError || e instanceof MedclassError) return new TrainingError(e.code, e.message);
  return null;
}

/** The classifier of a `train` message as training settings; what it leaves out gets the CLI's defaults. */
export function settingsFor(c: MessageOf<'train'>['classifier']): (featureLength: number) => TrainSettings {
  if (c.kind === 'svm') {
    const kernel = c.kernel ?? 'rbf';
    if (kernel === 'linear' && c.gamma !== undefined) throw new TrainingError('invalidOptions', 'gamma applies to the RBF kernel only');
    const base = { ...DEFAULT_SETTINGS, classWeight: c.classWeight ?? null, probability: c.probability ?? true };
    return (d) => ({
      ...base,
      params: {
        type: 'svm',
        kernel,
        C: c.C ?? 1,
        gamma: c.gamma === undefined || c.gamma === 'scale' ? { scale: 1 } : c.gamma === 'auto' ? { value: 1 / Math.max(1, d) } : { value: c.gamma },
      },
    });
  }
  if (c.kind === 'cnn') {
    const d = DEFAULT_CNN_PARAMS;
    const augment = c.augment ?? d.augment;
    return () => ({
      ...DEFAULT_SETTINGS,
      classWeight: c.classWeight ?? null,
      params: { type: 'cnn', epochs: c.epochs ?? d.epochs, widths: c.widths ?? [...d.widths], augment, flip: augment && (c.flip ?? d.flip) },
    });
  }
  return () => ({ ...DEFAULT_SETTINGS, params: { type: 'knn', k: c.k ?? 5, metric: c.metric ?? 'euclidean', weights: c.weights ?? 'uniform' } });
}

/** A `train` message's `auto` as the search's options: the training workers, the budget, what stays fixed. */
export function searchFor(a: NonNullable<MessageOf<'train'>['auto']>, spec: FeatureSpec, threads: number | undefined): AutoOptions {
  return {
    budgetMs: a.budgetSeconds * 1000,
    ...(a.features === 'spec' ? { sizes: [spec.size], sets: [{ name: 'given', families: [], features: spec.features }] } : {}),
    ...(a.operatingPoint ? { operatingPoint: a.operatingPoint } : {}),
    ...(a.rankBy ? { rankBy: a.rankBy } : {}),
    ...(threads ? { threads } : {}),
  };
}
