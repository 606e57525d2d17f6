/**
 * The admin's training set, read in the browser before anything is sent: a picked folder or a
 * ZIP as `<label>/<file>` or `<split>/<label>/<file>`, counts per split and class, duplicates
 * and label conflicts (by a hash of the decoded pixels, or of the bytes when a file does not
 * decode), and the ZIP to upload.
 *
 * What leaves the device is exactly the images kept here, DICOM de-identified on the device
 * (PS3.15 Annex E basic profile), packed anew: never the ZIP as picked, whose patient folders,
 * CSV lists and reports would go with it. A file is kept only when it is a PNG, JPEG or DICOM
 * file by its content (not its name) and sits directly in a class folder; PNG and JPEG lose
 * their text and EXIF metadata (shared/image/strip_metadata.ts).
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { findDuplicates, sortLabels, SPLITS, type DuplicateReport } from '../../shared/classify/dataset.ts';
import { deidentify } from '../../shared/image/dicom/deidentify.ts';
import { DEFAULT_DECODE_LIMITS } from '../../shared/image/index.ts';
import { stripJpeg, stripPng } from '../../shared/image/strip_metadata.ts';
import { decodeImageAsync, findDecoder } from '../lib/decoding.ts';

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
  /** Files left out, each as `path (why)`: not an image, not directly in a class folder, or DICOM that cannot be de-identified. */
  skipped: string[];
}

const IMAGE = /\.(png|jpe?g|dcm|dicom)$/i;
const isSplit = (s: string) => (SPLITS as readonly string[]).includes(s);
const hidden = (parts: string[]) => parts[0] === '__MACOSX' || parts.some((p) => p.startsWith('.'));

/**
 * The bytes to send for one file: DICOM de-identified, PNG and JPEG without their text and
 * EXIF metadata; anything that is not an image by its content refused.
 */
function sendable(bytes: Uint8Array): { bytes: Uint8Array } | { why: string } {
  const format = findDecoder(bytes)?.format;
  if (!format) return { why: 'not a PNG, JPEG or DICOM Part 10 file by its content' };
  if (format === 'png' || format === 'jpeg') {
    const stripped = format === 'png' ? stripPng(bytes) : stripJpeg(bytes);
    return stripped ? { bytes: stripped } : { why: `a damaged ${format.toUpperCase()} file (its ${format === 'png' ? 'chunks' : 'segments'} cannot be read)` };
  }
  try {
    return { bytes: deidentify(bytes) };
  } catch (e) {
    return { why: `DICOM that cannot be de-identified: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Builds the dataset from relative paths (a picked folder's name already taken off, or a ZIP's entries). */
export function datasetFrom(name: string, files: { path: string; bytes: Uint8Array }[], skippedBefore: string[] = []): LocalDataset {
  const skipped: string[] = [...skippedBefore];
  let entries = files
    .map((f) => ({ ...f, parts: f.path.split('/').filter((p) => p !== '') }))
    .filter((f) => {
      if (hidden(f.parts)) return false;
      if (!IMAGE.test(f.path)) skipped.push(`${f.path} (not .png, .jpg, .jpeg, .dcm or .dicom)`);
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
      skipped.push(`${e.path} (${e.parts.length > depth ? 'in a folder inside its class folder' : 'not in a class folder'})`);
      continue;
    }
    const checked = sendable(e.bytes);
    if ('why' in checked) {
      skipped.push(`${e.path} (${checked.why})`);
      continue;
    }
    const split = layout === 'splits' ? e.parts[0]! : 'train';
    const label = e.parts[depth - 2]!;
    images.push({ path: e.parts.join('/'), split, label, bytes: checked.bytes });
  }
  const labels = sortLabels(new Set(images.map((i) => i.label)));
  const splits = SPLITS.filter((s) => images.some((i) => i.split === s));
  const counts: Record<string, Record<string, number>> = {};
  for (const s of splits) counts[s] = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const i of images) counts[i.split]![i.label] = (counts[i.split]![i.label] ?? 0) + 1;
  return { name, layout, images, labels, splits, counts, skipped };
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
  return datasetFrom(root, read);
}

/** A picked ZIP: only image entries are inflated (each within the decoder's size limit); the rest is listed as left out. */
export function readZipBytes(name: string, zip: Uint8Array): LocalDataset {
  const skipped: string[] = [];
  const entries = unzipSync(zip, {
    filter: (f) => {
      if (f.name.endsWith('/') || hidden(f.name.split('/'))) return false;
      if (!IMAGE.test(f.name)) skipped.push(`${f.name} (not .png, .jpg, .jpeg, .dcm or .dicom)`);
      else if (f.originalSize > DEFAULT_DECODE_LIMITS.maxBytes) skipped.push(`${f.name} (larger than ${DEFAULT_DECODE_LIMITS.maxBytes / 2 ** 20} MiB)`);
      else return true;
      return false;
    },
  });
  return datasetFrom(
    name.replace(/\.zip$/i, ''),
    Object.entries(entries).map(([path, bytes]) => ({ path, bytes })),
    skipped,
  );
}

export async function readZip(file: File): Promise<LocalDataset> {
  return readZipBytes(file.name, new Uint8Array(await file.arrayBuffer()));
}

/**
 * The ZIP to upload: exactly the images kept (DICOM already de-identified when read), packed
 * anew, stored rather than deflated (images are compressed already).
 */
export function zipDataset(d: LocalDataset): Uint8Array {
  const tree: Zippable = {};
  for (const i of d.images) tree[i.path] = [i.bytes, { level: 0 }];
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
