import { join } from 'node:path';
import { DEFAULT_SETTINGS, type TrainSettings } from '../../shared/classify/train.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import type { Logger } from '../log.ts';
import { PROJECT_ROOT } from '../paths.ts';
import type { Store } from '../store/store.ts';
import { trainDataset } from '../training/train_dataset.ts';

/**
 * The demo service: trained at a server's first start on BreastMNIST (server/demo/breastmnist,
 * CC BY 4.0, see its ATTRIBUTION.md) and published as `demo`, so that a fresh server has
 * something real to classify with. Nothing is cached but the published model in the store.
 */
export const DEMO_SERVICE = 'demo';
export const DEMO_DATASET = join(PROJECT_ROOT, 'server', 'demo', 'breastmnist');
export const DEMO_DESCRIPTION = 'Breast ultrasound (BreastMNIST): malignant or normal-or-benign';
/** BreastMNIST's folders are its label numbers; a clinician reads these names. */
export const DEMO_LABELS = { '0': 'malignant', '1': 'normal-or-benign' } as const;
/** Every feature at size 64, so that images of any size can be classified. */
export const DEMO_SPEC = parseFeatureSpec({ size: 64, levels: 32 });
export const DEMO_SETTINGS: TrainSettings = { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } }, probability: true };

/** What a start that trained the demo service tells its user. */
export interface DemoSummary {
  version: number;
  labels: string[];
  ms: number;
  testAccuracy: number | null;
  testAuc: number | null;
}

/** Trains and publishes `demo` when the store has no service of that name; null when it was there. */
export async function ensureDemoService(store: Store, log: Logger, options: { threads?: number | undefined } = {}): Promise<DemoSummary | null> {
  if (await store.findService(DEMO_SERVICE)) return null;
  const started = performance.now();
  const result = await trainDataset(DEMO_DATASET, DEMO_SPEC, DEMO_SETTINGS, {}, {
    name: 'the demo dataset',
    // extraction on worker threads; the fit here, before the server listens
    alwaysWorkers: true,
    fitOn: 'here',
    labelNames: DEMO_LABELS,
    ...(options.threads ? { threads: options.threads } : {}),
  });
  if (await store.findService(DEMO_SERVICE)) return null; // published meanwhile (another process on this data folder)
  const v = await store.publish({
    service: DEMO_SERVICE,
    description: DEMO_DESCRIPTION,
    privacyModes: ['original', 'reduced', 'features'],
    model: result.modelText,
    createdBy: 'medclass (demo)',
  });
  const ms = Math.round(performance.now() - started);
  await store.audit({ at: v.createdAt, user: null, action: 'publish', service: DEMO_SERVICE, modelVersion: v.version, outcome: 'ok', detail: { via: 'demo', trainMs: ms } });
  const test = result.outcome.test;
  const summary: DemoSummary = {
    version: v.version,
    labels: result.labels,
    ms,
    testAccuracy: test ? Number(test.accuracy.toFixed(3)) : null,
    testAuc: test?.auc == null ? null : Number(test.auc.toFixed(3)),
  };
  // the start-up banner tells the user; operators' logs keep the figures
  log.debug(
    {
      service: DEMO_SERVICE,
      ...summary,
      extractMs: Math.round(result.timings.extractMs),
      fitMs: Math.round(result.timings.fitMs),
      images: Object.values(result.counts).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0),
    },
    `demo service trained on BreastMNIST and published in ${(ms / 1000).toFixed(1)} s`,
  );
  return summary;
}
