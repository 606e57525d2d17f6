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

export class ClassifierPool implements Classifier {
  private readonly pool: Piscina;
  private readonly summaries = new Map<string, ModelSummary>();

  constructor(
    private readonly store: Store,
    private readonly database: string,
    private readonly limits: DecodeLimits,
    threads = availableParallelism(),
  ) {
    this.pool = new Piscina({ ...workerModule('./classify.worker', import.meta.url), minThreads: threads, maxThreads: threads });
  }

  classify(service: string, version: number, images: WireImage[]): Promise<ImageOutcome[]> {
    const task: ClassifyTask = { database: this.database, service, version, images, limits: this.limits };
    return this.pool.run(task) as Promise<ImageOutcome[]>;
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

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
