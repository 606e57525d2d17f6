import { readFile, rename, writeFile } from 'node:fs/promises';
import { errorMessage } from '../../shared/errors.ts';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { parseModel, serializeModel, type LoadedModel, type ModelDocument } from '../../shared/classify/model.ts';

export async function readModelFile(path: string): Promise<LoadedModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ClassifyError('invalidModel', `cannot read model file ${path}: ${errorMessage(e)}`);
  }
  try {
    return parseModel(text);
  } catch (e) {
    if (e instanceof ClassifyError) throw new ClassifyError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}

/** Writes the model (its text when already serialised) next to its destination first, then moves it into place. Returns its size in bytes. */
export async function writeModelFile(path: string, doc: ModelDocument, text = serializeModel(doc)): Promise<number> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    throw new ClassifyError('invalidOptions', `cannot write the model to ${path}: ${errorMessage(e)}`);
  }
  return Buffer.byteLength(text);
}
