import { ClassifyError } from '../../shared/classify/errors.ts';
import { parseModel, type LoadedModel } from '../../shared/classify/model.ts';
import { errorMessage } from '../../shared/errors.ts';
import { wantsColour } from '../../shared/features/spec.ts';
import type { MessageOf } from '../../shared/protocol/messages.ts';
import type { Classifier } from '../classify/classifier_pool.ts';
import type { WireImage } from '../../shared/classify/classify_images.ts';
import type { Logger } from '../log.ts';
import type { ModelVersion, Store } from '../store/store.ts';
import type { ServerLimits } from './limits.ts';
import { TrainingError } from './training_jobs.ts';

export interface ModelPublishDeps {
  store: Store;
  classifier: Classifier;
  limits: ServerLimits;
  log: Logger;
  /** Resolves once the row is written; never rejects. */
  audit(action: string, outcome: string, service?: string, modelVersion?: number, detail?: Record<string, number | string | boolean>): Promise<void>;
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * A mid-grey image at the model's input size (with colour planes where its features need
 * them): what the model must classify, on a worker as it would serve, before it is published.
 */
export function probeImage(m: LoadedModel): WireImage {
  const { width, height } = m.imageSize ?? { width: m.spec.size, height: m.spec.size };
  const channels = wantsColour(m.spec) ? 3 : 1;
  return { mode: 'reduced', width, height, channels, pixels: new Float32Array((channels === 3 ? 4 : 1) * width * height).fill(0.5) };
}

/**
 * `publishModel`: a model document trained outside the server (in the admin's browser) becomes
 * a new version of a service, once it has passed every check a stored model passes and more:
 * its size, that it is UTF-8 JSON, the schema and integrity hash, the coherence of its spec,
 * labels and weights (parseModel), and that it loads on a classification worker and gives
 * finite scores for a probe image. The store makes it current in one transaction. Every
 * refusal is audited with its code and says why in words.
 */
export async function publishModel(owner: string, m: MessageOf<'publishModel'>, deps: ModelPublishDeps): Promise<ModelVersion> {
  const refuse = async (code: string, message: string): Promise<never> => {
    await deps.audit('publishModel', code, m.service, undefined, { bytes: m.model.length });
    throw new TrainingError(code, message);
  };
  const max = deps.limits.upload.maxModelBytes;
  if (m.model.length > max) await refuse('modelTooLarge', `the model is ${MiB(m.model.length)}; at most ${MiB(max)} are accepted`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(m.model);
  } catch {
    await refuse('invalidModel', 'the model is not UTF-8 text');
  }
  let loaded: LoadedModel | undefined;
  try {
    loaded = parseModel(text);
  } catch (e) {
    if (e instanceof ClassifyError) await refuse(e.code, e.message);
    throw e;
  }
  const model = loaded!;
  let why: string | null = null;
  try {
    const outcome = await deps.classifier.probe(text, probeImage(model));
    if (!outcome.ok) why = outcome.message;
    else if (!Object.values(outcome.scores).every(Number.isFinite)) why = 'its scores are not finite numbers';
  } catch (e) {
    why = errorMessage(e);
  }
  if (why !== null) await refuse('invalidModel', `the model loads but cannot classify an image: ${why}`);
  const v = await deps.store.publish({ service: m.service, description: m.description, privacyModes: m.privacyModes, model: text, createdBy: owner });
  await deps.audit('publish', 'ok', m.service, v.version, { via: 'publishModel', classifier: model.predictor.classifier.type, bytes: m.model.length, sha256: model.doc.integrity.sha256 });
  deps.log.info({ user: owner, service: m.service, version: v.version, classifier: model.predictor.classifier.type }, 'model published from outside the server');
  return v;
}
