import { cnnModels } from '../../shared/classify/classifier.ts';
import { releaseCnn } from '../../shared/classify/cnn/cnn_model.ts';
import { parseModel, type LoadedModel } from '../../shared/classify/model.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { useCnnBackend } from '../features/backend.ts';
import { useServerKernels } from '../features/server_kernels.ts';
import { classifyImages, type ImageOutcome, type WireImage } from '../../shared/classify/classify_images.ts';

export interface ClassifyTask {
  service: string;
  version: number;
  /** The model document's UTF-8 bytes, shared by the main thread (classifier_pool.ts), which reads the store. */
  document: SharedArrayBuffer;
  images: WireImage[];
  limits: DecodeLimits;
  /** A model not stored yet (publishModel's check): parsed for this task only, never kept. */
  probe?: boolean;
}

useServerKernels();
const models = new Map<string, LoadedModel>();

// a copy out of the shared memory: TextDecoder refuses shared views
const parseDocument = (task: ClassifyTask): LoadedModel => parseModel(new TextDecoder().decode(new Uint8Array(task.document).slice()));

/** Each model is parsed once per worker and kept: a task shares its document, which is only read on a miss. */
function model(task: ClassifyTask): LoadedModel {
  const key = `${task.service}@${task.version}`;
  let m = models.get(key);
  if (!m) {
    m = parseDocument(task);
    if (models.size > 32) {
      const oldest = models.keys().next().value!;
      for (const net of cnnModels(models.get(oldest)!.predictor.classifier)) releaseCnn(net);
      models.delete(oldest);
    }
    models.set(key, m);
  }
  return m;
}

export default async function classifyTask(task: ClassifyTask): Promise<ImageOutcome[]> {
  const m = task.probe ? parseDocument(task) : model(task);
  const nets = cnnModels(m.predictor.classifier);
  try {
    // the CNN's convolutions run on tfjs's wasm backend; the features stay on the server kernels
    if (nets.length) await useCnnBackend();
    return await classifyImages(m, task.images, task.limits);
  } finally {
    if (task.probe) for (const net of nets) releaseCnn(net);
  }
}
