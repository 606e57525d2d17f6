import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { parseModel } from '../../shared/classify/model.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { workerModule } from '../features/worker_url.ts';
import type { Store } from '../store/store.ts';
import type { ClassifyTask } from './classify.worker.ts';
import type { ImageOutcome, WireImage } from './classify_images.ts';

export interface ModelSummary {
  labels: string[];
  spec: FeatureSpec;
  featureLength: number;
  imageSize: { width: number; height: number } | null;
}

/** Classification off the event loop: one worker thread per core, each keeping the models it has used. */
export interface Classifier {
  classify(service: string, version: number, images: WireImage[]): Promise<ImageOutcome[]>;
  /** Labels and spec of a stored model version (read once, then kept). */
  describe(service: string, version: number): ModelSummary | undefined;
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

/** One request's share of a batch. */
interface Part {
  images: WireImage[];
  resolve(outcomes: ImageOutcome[]): void;
  reject(error: unknown): void;
}

/** Requests for one service@version waiting to go to a worker together. */
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
 * The worker pool, with micro-batching: the images of requests for the same service@version
 * that arrive while the workers are busy (or within maxWaitMs) go to a worker as one task, up
 * to maxImages, since extraction and the classifier cost much less per image in a batch. Each
 * request gets its own outcomes back, in order. With a worker free a request goes at once
 * (after the current turn of the event loop, so that requests arriving together go together).
 */
export class ClassifierPool implements Classifier {
  private readonly pool: Piscina;
  private readonly summaries = new Map<string, ModelSummary>();
  private readonly pending = new Map<string, Batch>();
  private readonly batch: BatchOptions;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private pumpScheduled = false;
  private pumpTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly database: string,
    private readonly limits: DecodeLimits,
    threads = availableParallelism(),
    batch: Partial<BatchOptions> = {},
  ) {
    this.pool = new Piscina({ ...workerModule('./classify.worker', import.meta.url), minThreads: threads, maxThreads: threads });
    this.batch = { ...DEFAULT_BATCH, ...batch };
    this.maxInFlight = Math.max(1, this.batch.maxInFlight ?? threads);
  }

  classify(service: string, version: number, images: WireImage[]): Promise<ImageOutcome[]> {
    if (this.closed) return Promise.reject(new Error('the classifier is closed'));
    if (images.length === 0) return Promise.resolve([]);
    return new Promise<ImageOutcome[]>((resolve, reject) => {
      const key = `${service}@${version}`;
      let batch = this.pending.get(key);
      // a batch that this request would push past the limit goes as it is
      if (batch && batch.count + images.length > this.batch.maxImages) {
        this.dispatch(key, batch);
        batch = undefined;
      }
      if (!batch) {
        batch = { service, version, parts: [], count: 0 };
        this.pending.set(key, batch);
      }
      batch.parts.push({ images, resolve, reject });
      batch.count += images.length;
      if (batch.count >= this.batch.maxImages) this.dispatch(key, batch);
      else this.schedulePump();
    });
  }

  /** With a worker free, sends the waiting batches after maxWaitMs (or once the current I/O is read). */
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

  /** Sends the oldest waiting batches while workers are free. */
  private pump(): void {
    for (const [key, batch] of this.pending) {
      if (this.inFlight >= this.maxInFlight) return;
      this.dispatch(key, batch);
    }
  }

  private dispatch(key: string, batch: Batch): void {
    if (this.pending.get(key) === batch) this.pending.delete(key);
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

  private runTask(service: string, version: number, images: WireImage[]): Promise<ImageOutcome[]> {
    try {
      const packed = packImages(images);
      const task: ClassifyTask = { database: this.database, service, version, images: packed.images, limits: this.limits };
      return this.pool.run(task, { transferList: [packed.buffer] }) as Promise<ImageOutcome[]>;
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  describe(service: string, version: number): ModelSummary | undefined {
    const key = `${service}@${version}`;
    let summary = this.summaries.get(key);
    if (!summary) {
      const stored = this.store.model(service, version);
      if (!stored) return undefined;
      const m = parseModel(stored.model);
      summary = { labels: m.labels, spec: m.spec, featureLength: m.featureLength, imageSize: m.imageSize };
      this.summaries.set(key, summary);
    }
    return summary;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    const closed = new Error('the classifier is closed');
    for (const batch of this.pending.values()) for (const part of batch.parts) part.reject(closed);
    this.pending.clear();
    return this.pool.destroy();
  }
}
