import Database from 'better-sqlite3';
import { releaseCnn } from '../../shared/classify/cnn/cnn_model.ts';
import { parseModel, type LoadedModel } from '../../shared/classify/model.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { useBackendFor, useCpuBackend } from '../features/backend.ts';
import { classifyImages, type ImageOutcome, type WireImage } from './classify_images.ts';

export interface ClassifyTask {
  database: string;
  service: string;
  version: number;
  images: WireImage[];
  limits: DecodeLimits;
}

const ready = useCpuBackend();
const models = new Map<string, LoadedModel>();
let db: Database.Database | null = null;

/** Models are read here, from the store's file, and kept: a task names its model, it does not carry it. */
function model(database: string, service: string, version: number): LoadedModel {
  const key = `${service}@${version}`;
  let m = models.get(key);
  if (!m) {
    db ??= new Database(database, { readonly: true, fileMustExist: true });
    const row = db.prepare('SELECT model FROM models WHERE service = ? AND version = ?').get(service, version) as { model: string } | undefined;
    if (!row) throw new Error(`no model ${key}`);
    m = parseModel(row.model);
    if (models.size > 32) {
      const oldest = models.keys().next().value!;
      const c = models.get(oldest)!.predictor.classifier;
      if (c.type === 'cnn') releaseCnn(c.model);
      models.delete(oldest);
    }
    models.set(key, m);
  }
  return m;
}

export default async function classifyTask(task: ClassifyTask): Promise<ImageOutcome[]> {
  await ready;
  const m = model(task.database, task.service, task.version);
  // a CNN classifies on wasm; the features of the others stay on the cpu reference
  await useBackendFor(m.predictor.classifier.type);
  return classifyImages(m, task.images, task.limits);
}
