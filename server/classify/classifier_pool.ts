import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { parseModel } from '../../shared/classify/model.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { workerModule } from '../features/worker_url.ts';
import type { Store } from '../store/store.ts';
import type { ClassifyTask } from './classify.worker.ts';
import type { ImageOutcome, WireImage } from '../../shared/classify/classify_images.ts';

export interface ModelSummary {
  labels: string[];
  spec: FeatureSpec;
  featureLength: number;
  imageSize: { width: number; height: number } | null;
  /** The model document's classifier type (`svm`, `knn`, `cnn`, or one added since). */
  classifier: string;
}

/** Classification off the event loop: one worker thread per core, each keeping the models it has used. */
export interface Classifier {
  /** `user` is whose request it is: the workers are shared between users in turn. */
  classify(service: string, version: number, images: WireImage[], user?: string): Promise<ImageOutcome[]>;
  /** Labels and spec of a stored model version (read once, then kept). */
  describe(service: string, version: number): Promise<ModelSummary | undefined>;
  /**
   * Classifies one image with a model document that is not stored (yet): a model sent to be
   * published must load and predict on a worker, as it would serve. The worker keeps nothing.
   */
  probe(document: string, image: WireImage): Promise<ImageOutcome>;
  close(): Promise<void>;
}

export interface BatchOptions {
  /** Images of one model that go to a worker as one task, at most (a larger request goes alone). */
  maxImages: number;
  /**
   * With a worker free, how long the first request of a batch waits for others, in ms (0: only
   * for those read in the same turn of the event loop). With all workers busy, batches wait
   * for one to finish, growing meanwhile: that wait costs nothing, the workers are busy anyway.
   */
  maxWaitMs: number;
  /** Tasks in the workers at once, beyond which batches wait and grow; default: one per thread. */
  maxInFlight?: number;
}

export const DEFAULT_BATCH: Readonly<BatchOptions> = Object.freeze({ maxImages: 32, maxWaitMs: 1 });

/** One request, waiting in its user's queue, then a share of a batch. */
interface Part {
  service: string;
  version: number;
  /** service@version: parts with the same key can share a task. */
  key: string;
  images: WireImage[];
  resolve(outcomes: ImageOutcome[]): void;
  reject(error: unknown): void;
}

/** A model version as this process keeps it: its summary, and its document for the workers. */
interface LoadedVersion {
  summary: ModelSummary;
  /** The model document's UTF-8 bytes, shared with the workers rather than copied per task. */
  document: SharedArrayBuffer;
}

/** Model versions kept at once; the oldest read is dropped first (read again from the store if needed). */
const KEEP_MODELS = 32;

/** Requests for one service@version going to a worker together. */
interface Batch {
  service: string;
  version: number;
  parts: Part[];
  count: number;
}

/** The bytes of an image's typed array, to copy into a batch's buffer. */
function payloadOf(image: WireImage): Uint8Array {
  const a = image.mode === 'original' ? image.data : image.mode === 'reduced' ? image.pixels : image.vector;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The images of a batch with their data copied into one fresh buffer (8-byte aligned views),
 * which is moved to the worker rather than cloned. The requests' own arrays (views into the
 * decrypted messages) are left as they are: a batch that fails is retried request by request.
 */
export function packImages(images: readonly WireImage[]): { images: WireImage[]; buffer: ArrayBuffer } {
  let size = 0;
  for (const image of images) size += Math.ceil(payloadOf(image).byteLength / 8) * 8;
  const buffer = new ArrayBuffer(size);
  const bytes = new Uint8Array(buffer);
  let at = 0;
  const out = images.map((image): WireImage => {
    const payload = payloadOf(image);
    bytes.set(payload, at);
    const offset = at;
    at += Math.ceil(payload.byteLength / 8) * 8;
    if (image.mode === 'original') return { mode: 'original', data: new Uint8Array(buffer, offset, payload.byteLength) };
    if (image.mode === 'reduced') return { ...image, pixels: new Float32Array(buffer, offset, image.pixels.length) };
    return { mode: 'features', vector: new Float64Array(buffer, offset, image.vector.length) };
  });
  return { images: out, buffer };
}

/**
 * The worker pool, with micro-batching and fair shares. Requests wait in one queue per user;
 * whenever a worker is free, the next user in turn (round-robin) sends their oldest request,
 * and requests of the other users (then of the same users again) for the same service@version
 * join that task up to maxImages, since extraction and the classifier cost much less per
 * image in a batch. So a user with many large requests waits behind their own, while another
 * user's request goes with the next free worker. Each request gets its own outcomes back, in
 * order. With a worker free a request goes at once (after maxWaitMs, or the current turn of
 * the event loop, so that requests arriving together go together).
 */
export class ClassifierPool implements Classifier {
  private readonly pool: Piscina;
  /** By service@version: read from the store once, then handed to the workers with each task. */
  private readonly models = new Map<string, Promise<LoadedVersion | undefined>>();
  /** Waiting requests per user; the map's order is the turn (a user who sends goes to the back). */
  private readonly queues = new Map<string, Part[]>();
  private readonly batch: BatchOptions;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private pumpScheduled = false;
  private pumpTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly limits: DecodeLimits,
    threads = availableParallelism(),
    batch: Partial<BatchOptions> = {},
  ) {
    this.pool = new Piscina({ ...workerModule('./classify.worker', import.meta.url), minThreads: threads, maxThreads: threads });
    this.batch = { ...DEFAULT_BATCH, ...batch };
    this.maxInFlight = Math.max(1, this.batch.maxInFlight ?? threads);
  }

  classify(service: string, version: number, images: WireImage[], user = ''): Promise<ImageOutcome[]> {
    if (this.closed) return Promise.reject(new Error('the classifier is closed'));
    if (images.length === 0) return Promise.resolve([]);
    return new Promise<ImageOutcome[]>((resolve, reject) => {
      const queue = this.queues.get(user);
      const part = { service, version, key: `${service}@${version}`, images, resolve, reject };
      if (queue) queue.push(part);
      else this.queues.set(user, [part]);
      this.schedulePump();
    });
  }

  /** With a worker free, sends the waiting requests after maxWaitMs (or once the current I/O is read). */
  private schedulePump(): void {
    if (this.pumpScheduled || this.inFlight >= this.maxInFlight) return;
    this.pumpScheduled = true;
    const run = () => {
      this.pumpScheduled = false;
      this.pumpTimer = null;
      this.pump();
    };
    if (this.batch.maxWaitMs > 0) this.pumpTimer = setTimeout(run, this.batch.maxWaitMs);
    else setImmediate(run);
  }

  /** Sends batches while workers are free, one user's turn each. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queues.size) this.dispatch(this.nextBatch());
  }

  /** The next user's oldest request, joined by others' for the same model, in turn, up to maxImages. */
  private nextBatch(): Batch {
    const [firstUser, firstQueue] = this.queues.entries().next().value as [string, Part[]];
    const first = this.take(firstUser, firstQueue, 0);
    const batch: Batch = { service: first.service, version: first.version, parts: [first], count: first.images.length };
    let added = true;
    while (added && batch.count < this.batch.maxImages) {
      added = false;
      for (const [user, queue] of [...this.queues]) {
        const i = queue.findIndex((p) => p.key === first.key);
        if (i < 0 || batch.count + queue[i]!.images.length > this.batch.maxImages) continue;
        const part = this.take(user, queue, i);
        batch.parts.push(part);
        batch.count += part.images.length;
        added = true;
        if (batch.count >= this.batch.maxImages) break;
      }
    }
    return batch;
  }

  /** Takes a request from a user's queue and sends the user to the back of the turn. */
  private take(user: string, queue: Part[], index: number): Part {
    const [part] = queue.splice(index, 1);
    this.queues.delete(user);
    if (queue.length) this.queues.set(user, queue);
    return part!;
  }

  private dispatch(batch: Batch): void {
    const { parts } = batch;
    this.inFlight++;
    this.runTask(batch.service, batch.version, parts.length === 1 ? parts[0]!.images : parts.flatMap((p) => p.images))
      .then(
        (outcomes) => {
          let at = 0;
          for (const part of parts) {
            part.resolve(outcomes.slice(at, at + part.images.length));
            at += part.images.length;
          }
        },
        (error: unknown) => {
          // one request's trouble must not fail the others: each on its own, then
          if (parts.length === 1 || this.closed) for (const part of parts) part.reject(error);
          else for (const part of parts) this.runTask(batch.service, batch.version, part.images).then(part.resolve, part.reject);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.pump();
      });
  }

  private async runTask(service: string, version: number, images: WireImage[]): Promise<ImageOutcome[]> {
    const loaded = await this.load(service, version);
    if (!loaded) throw new Error(`no model ${service}@${version}`);
    const packed = packImages(images);
    const task: ClassifyTask = { service, version, document: loaded.document, images: packed.images, limits: this.limits };
    return (await this.pool.run(task, { transferList: [packed.buffer] })) as ImageOutcome[];
  }

  /**
   * A model version from the store, read once while kept: the workers never open the store
   * (it may be a server elsewhere); they get the document from here.
   */
  private load(service: string, version: number): Promise<LoadedVersion | undefined> {
    const key = `${service}@${version}`;
    let loaded = this.models.get(key);
    if (!loaded) {
      loaded = this.store.model(service, version).then((stored) => {
        if (!stored) return undefined;
        const m = parseModel(stored.model);
        const bytes = new TextEncoder().encode(stored.model);
        const document = new SharedArrayBuffer(bytes.byteLength);
        new Uint8Array(document).set(bytes);
        return { summary: { labels: m.labels, spec: m.spec, featureLength: m.featureLength, imageSize: m.imageSize, classifier: m.predictor.classifier.type }, document };
      });
      this.models.set(key, loaded);
      if (this.models.size > KEEP_MODELS) this.models.delete(this.models.keys().next().value!);
      // not kept when missing or unreadable: it may be published (or the store reachable) later
      loaded.then(
        (v) => v || this.forget(key, loaded!),
        () => this.forget(key, loaded!),
      );
    }
    return loaded;
  }

  private forget(key: string, loaded: Promise<LoadedVersion | undefined>): void {
    if (this.models.get(key) === loaded) this.models.delete(key);
  }

  async probe(document: string, image: WireImage): Promise<ImageOutcome> {
    if (this.closed) throw new Error('the classifier is closed');
    const bytes = new TextEncoder().encode(document);
    const shared = new SharedArrayBuffer(bytes.byteLength);
    new Uint8Array(shared).set(bytes);
    const packed = packImages([image]);
    const task: ClassifyTask = { service: '', version: 0, document: shared, images: packed.images, limits: this.limits, probe: true };
    const [outcome] = (await this.pool.run(task, { transferList: [packed.buffer] })) as ImageOutcome[];
    return outcome!;
  }

  async describe(service: string, version: number): Promise<ModelSummary | undefined> {
    return (await this.load(service, version))?.summary;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    const closed = new Error('the classifier is closed');
    for (const queue of this.queues.values()) for (const part of queue) part.reject(closed);
    this.queues.clear();
    return this.pool.destroy();
  }
}
