import { stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { SPLITS, sortLabels, type SplitName } from '../../shared/classify/dataset.ts';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { filesUnder, subfolders } from '../files/image_files.ts';

/** One image of a labelled dataset. */
export interface DatasetFile {
  path: string;
  /** Relative to the dataset folder, with forward slashes: train/0/115.png. */
  name: string;
  label: string;
  split: SplitName;
}

export interface DatasetLayout {
  root: string;
  /** `classes`: one subfolder per class (all of it is train); `splits`: train/ [val/] [test/]. */
  layout: 'classes' | 'splits';
  splits: SplitName[];
  /** Every class that has a folder anywhere, in label order. */
  labels: string[];
  files: DatasetFile[];
  /** Class folders without a single image file, as split/label. */
  emptyFolders: string[];
}

async function requireFolder(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ClassifyError('invalidDataset', `no such folder: ${path}`);
  if (!info.isDirectory()) throw new ClassifyError('invalidDataset', `not a folder: ${path} (a dataset is a folder with one subfolder per class, or train/ val/ test/ splits)`);
}

async function scanClasses(root: string, base: string, split: SplitName, files: DatasetFile[], empty: string[]): Promise<string[]> {
  const labels = await subfolders(base);
  for (const label of labels) {
    const found = await filesUnder(join(base, label));
    if (found.length === 0) empty.push(relative(root, join(base, label)).split(sep).join('/'));
    for (const path of found) files.push({ path, name: relative(root, path).split(sep).join('/'), label, split });
  }
  return labels;
}

/**
 * Reads a dataset folder: either one subfolder per class, or split folders train/ (and
 * optionally val/, test/) that each hold one subfolder per class.
 */
export async function scanDataset(root: string): Promise<DatasetLayout> {
  await requireFolder(root);
  const top = await subfolders(root);
  const splitDirs = top.filter((t) => (SPLITS as readonly string[]).includes(t)) as SplitName[];
  const files: DatasetFile[] = [];
  const emptyFolders: string[] = [];
  if (splitDirs.length === 0) {
    const labels = await scanClasses(root, root, 'train', files, emptyFolders);
    if (labels.length === 0) throw new ClassifyError('invalidDataset', `${root}: no class folders (expected one subfolder per class, or train/ val/ test/)`);
    return { root, layout: 'classes', splits: ['train'], labels: sortLabels(labels), files, emptyFolders };
  }
  const others = top.filter((t) => !splitDirs.includes(t as SplitName));
  if (others.length) {
    throw new ClassifyError(
      'invalidDataset',
      `${root}: mixes split folders (${splitDirs.join(', ')}) with other folders (${others.join(', ')}); use either train/ val/ test/ or one folder per class`,
    );
  }
  if (!splitDirs.includes('train')) throw new ClassifyError('invalidDataset', `${root}: has ${splitDirs.join('/ and ')}/ but no train/ to learn from`);
  const splits = SPLITS.filter((s) => splitDirs.includes(s));
  const labelsBySplit = new Map<SplitName, string[]>();
  for (const split of splits) labelsBySplit.set(split, await scanClasses(root, join(root, split), split, files, emptyFolders));
  const trainLabels = new Set(labelsBySplit.get('train'));
  for (const split of splits) {
    const unknown = labelsBySplit.get(split)!.filter((l) => !trainLabels.has(l));
    if (unknown.length) throw new ClassifyError('invalidDataset', `${root}/${split}: class ${unknown.map((l) => `'${l}'`).join(', ')} has no folder in train/`);
  }
  return { root, layout: 'splits', splits, labels: sortLabels(trainLabels), files, emptyFolders };
}

/** A folder with one subfolder per class (what `evaluate` scores). */
export async function scanLabelledFolder(folder: string): Promise<{ labels: string[]; files: DatasetFile[]; emptyFolders: string[] }> {
  await requireFolder(folder);
  const top = await subfolders(folder);
  if (top.includes('train') || top.includes('test')) {
    throw new ClassifyError('invalidDataset', `${folder} holds split folders; give the split to score, e.g. ${join(folder, top.includes('test') ? 'test' : 'train')}`);
  }
  const files: DatasetFile[] = [];
  const emptyFolders: string[] = [];
  const labels = await scanClasses(folder, folder, 'test', files, emptyFolders);
  if (labels.length === 0) throw new ClassifyError('invalidDataset', `${folder}: no class folders (expected one subfolder per class)`);
  return { labels: sortLabels(labels), files, emptyFolders };
}
