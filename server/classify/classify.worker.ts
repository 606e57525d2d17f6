import Database from 'better-sqlite3';
import { parseModel, type LoadedModel } from '../../shared/classify/model.ts';
import type { DecodeLimits } from '../../shared/image/index.ts';
import { useServerKernels } from '../features/server_kernels.ts';
import { classifyImages, type ImageOutcome, type WireImage } from './classify_images.ts';

export interface ClassifyTask {
  database: string;
  service: string;
  version: number;
  images: WireImage[];
  limits: DecodeLimits;
}

useServerKernels();
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
    if (models.size > 32) models.delete(models.keys().next().value!);
    models.set(key, m);
  }
  return m;
}

export default async function classifyTask(task: ClassifyTask): Promise<ImageOutcome[]> {
  return classifyImages(model(task.database, task.service, task.version), task.images, task.limits);
}
