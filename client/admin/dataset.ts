/**
 * The admin's training set, read in the browser before anything is sent: a picked folder or a
 * ZIP as `<label>/<file>` or `<split>/<label>/<file>`, counts per split and class, duplicates
 * and label conflicts (by a hash of the decoded pixels, or of the bytes when a file does not
 * decode), and the ZIP to upload (made here with fflate when a folder was picked).
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { findDecoder } from '../../shared/image/index.ts';
import { deidentify } from '../../shared/image/dicom/deidentify.ts';
import { findDuplicates, sortLabels, SPLITS, type DuplicateReport } from '../../shared/classify/dataset.ts';
import { decodeImageAsync } from '../../shared/image/index.ts';

export interface LocalImage {
  /** The path as the server will see it, e.g. train/malignant/12.png. */
  path: string;
  split: string;
  label: string;
  bytes: Uint8Array;
}

export interface LocalDataset {
  name: string;
  layout: 'classes' | 'splits';
  images: LocalImage[];
  labels: string[];
  splits: string[];
  /** counts[split][label] */
  counts: Record<string, Record<string, number>>;
  /** Files left out (not images, or outside a class folder). */
  skipped: string[];
  /** The ZIP to upload: the one picked, or one made from the folder. */
  zip: Uint8Array | null;
}

const IMAGE = /\.(png|jpe?g|dcm|dicom)$/i;
const isSplit = (s: string) => (SPLITS as readonly string[]).includes(s);
const hidden = (parts: string[]) => parts[0] === '__MACOSX' || parts.some((p) => p.startsWith('.'));

/** Builds the dataset from relative paths (a picked folder's name already taken off, or a ZIP's entries). */
export function datasetFrom(name: string, files: { path: string; bytes: Uint8Array }[], zip: Uint8Array | null): LocalDataset {
  const skipped: string[] = [];
  let entries = files
    .map((f) => ({ ...f, parts: f.path.split('/').filter((p) => p !== '') }))
    .filter((f) => {
      if (hidden(f.parts)) return false;
      if (!IMAGE.test(f.path)) skipped.push(f.path);
      return IMAGE.test(f.path);
    });
  // one wrapping folder (e.g. a ZIP of the folder itself) is taken off
  const tops = new Set(entries.map((e) => e.parts[0]));
  if (tops.size === 1 && !isSplit([...tops][0] ?? '') && entries.every((e) => e.parts.length >= 3)) entries = entries.map((e) => ({ ...e, parts: e.parts.slice(1) }));
  const layout = entries.some((e) => isSplit(e.parts[0] ?? '') && e.parts.length >= 3) ? 'splits' : 'classes';
  const depth = layout === 'splits' ? 3 : 2;
  const images: LocalImage[] = [];
  for (const e of entries) {
    if (e.parts.length !== depth || (layout === 'splits' && !isSplit(e.parts[0]!))) {
      skipped.push(e.path);
      continue;
    }
    const split = layout === 'splits' ? e.parts[0]! : 'train';
    const label = e.parts[depth - 2]!;
    images.push({ path: e.parts.join('/'), split, label, bytes: e.bytes });
  }
  const labels = sortLabels(new Set(images.map((i) => i.label)));
  const splits = SPLITS.filter((s) => images.some((i) => i.split === s));
  const counts: Record<string, Record<string, number>> = {};
  for (const s of splits) counts[s] = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const i of images) counts[i.split]![i.label] = (counts[i.split]![i.label] ?? 0) + 1;
  return { name, layout, images, labels, splits, counts, skipped, zip };
}

/** A picked folder (webkitdirectory): the picked folder's own name is taken off each path. */
export async function readFolder(files: FileList | File[]): Promise<LocalDataset> {
  const list = Array.from(files);
  const root = (list[0]?.webkitRelativePath || '').split('/')[0] || 'dataset';
  const read = await Promise.all(
    list.map(async (f) => {
      const rel = f.webkitRelativePath || f.name;
      const path = rel.startsWith(`${root}/`) ? rel.slice(root.length + 1) : rel;
      return { path, bytes: new Uint8Array(await f.arrayBuffer()) };
    }),
  );
  return datasetFrom(root, read, null);
}

export async function readZip(file: File): Promise<LocalDataset> {
  const zip = new Uint8Array(await file.arrayBuffer());
  const entries = unzipSync(zip);
  const files = Object.entries(entries)
    .filter(([path]) => !path.endsWith('/'))
    .map(([path, bytes]) => ({ path, bytes }));
  return datasetFrom(file.name.replace(/\.zip$/i, ''), files, zip);
}

const isDicom = (bytes: Uint8Array) => findDecoder(bytes)?.format === 'dicom';

/**
 * The dataset as a ZIP (stored, not deflated: images are compressed already). DICOM files
 * are de-identified here, on the device, before they are packed (PS3.15 Annex E basic
 * profile): a picked ZIP that holds any is packed anew.
 */
export function zipDataset(d: LocalDataset): Uint8Array {
  const dicom = d.images.some((i) => isDicom(i.bytes));
  if (d.zip && !dicom) return d.zip;
  const tree: Zippable = {};
  for (const i of d.images) tree[i.path] = [isDicom(i.bytes) ? deidentify(i.bytes) : i.bytes, { level: 0 }];
  return zipSync(tree);
}

const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

/** Hashes every image (decoded pixels when possible) and finds duplicates and label conflicts; keeps each decoded image's size. */
export async function checkDuplicates(
  d: LocalDataset,
  onProgress?: (done: number, total: number) => void,
): Promise<{ report: DuplicateReport; undecodable: string[]; sizes: { width: number; height: number }[] }> {
  const undecodable: string[] = [];
  const sizes: { width: number; height: number }[] = [];
  const hashed = [];
  let done = 0;
  for (const i of d.images) {
    let data: Uint8Array;
    try {
      const g = await decodeImageAsync(i.bytes);
      sizes.push({ width: g.width, height: g.height });
      const pixels = new Uint8Array(g.data.buffer, g.data.byteOffset, g.data.byteLength);
      data = new Uint8Array(8 + pixels.length);
      new DataView(data.buffer).setUint32(0, g.width);
      new DataView(data.buffer).setUint32(4, g.height);
      data.set(pixels, 8);
    } catch {
      undecodable.push(i.path);
      data = i.bytes;
    }
    hashed.push({ name: i.path, split: i.split, label: i.label, hash: hex(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>)) });
    if (++done % 32 === 0 || done === d.images.length) onProgress?.(done, d.images.length);
  }
  return { report: findDuplicates(hashed), undecodable, sizes };
}
