import { join } from 'node:path';
import { DEFAULT_SETTINGS, type TrainSettings } from '../../shared/classify/train.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import type { Logger } from '../log.ts';
import { PROJECT_ROOT } from '../paths.ts';
import type { ModelVersion, Store } from '../store/store.ts';
import { trainDataset } from '../training/train_dataset.ts';

/**
 * The demo service: trained at a server's first start on BreastMNIST (server/demo/breastmnist,
 * CC BY 4.0, see its ATTRIBUTION.md) and published as `demo`, so that a fresh server has
 * something real to classify with. Nothing is cached but the published model in the store.
 */
export const DEMO_SERVICE = 'demo';
export const DEMO_DATASET = join(PROJECT_ROOT, 'server', 'demo', 'breastmnist');
export const DEMO_DESCRIPTION = 'Breast ultrasound (BreastMNIST): malignant (0) vs normal or benign (1)';
/** Every feature at size 64, so that images of any size can be classified. */
export const DEMO_SPEC = parseFeatureSpec({ size: 64, levels: 32 });
export const DEMO_SETTINGS: TrainSettings = { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } }, probability: true };

/** Trains and publishes `demo` when the store has no service of that name; returns the new version, or null. */
export async function ensureDemoService(store: Store, log: Logger, options: { threads?: number | undefined } = {}): Promise<ModelVersion | null> {
  if (store.findService(DEMO_SERVICE)) return null;
  const started = performance.now();
  const result = await trainDataset(DEMO_DATASET, DEMO_SPEC, DEMO_SETTINGS, {}, {
    name: 'the demo dataset',
    // extraction on worker threads; the fit here, before the server listens
    alwaysWorkers: true,
    fitOn: 'here',
    ...(options.threads ? { threads: options.threads } : {}),
  });
  if (store.findService(DEMO_SERVICE)) return null; // published meanwhile (another process on this data folder)
  const v = store.publish({
    service: DEMO_SERVICE,
    description: DEMO_DESCRIPTION,
    privacyModes: ['original', 'reduced', 'features'],
    model: result.modelText,
    createdBy: 'medclass (demo)',
  });
  const ms = Math.round(performance.now() - started);
  store.audit({ at: v.createdAt, user: null, action: 'publish', service: DEMO_SERVICE, modelVersion: v.version, outcome: 'ok', detail: { via: 'demo', trainMs: ms } });
  log.info(
    {
      service: DEMO_SERVICE,
      version: v.version,
      ms,
      extractMs: Math.round(result.timings.extractMs),
      fitMs: Math.round(result.timings.fitMs),
      images: Object.values(result.counts).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0),
      testAccuracy: result.outcome.test ? Number(result.outcome.test.accuracy.toFixed(3)) : null,
      testAuc: result.outcome.test?.auc === null || !result.outcome.test ? null : Number(result.outcome.test.auc.toFixed(3)),
    },
    `demo service trained on BreastMNIST and published in ${(ms / 1000).toFixed(1)} s`,
  );
  return v;
}
