import { SPLITS, type SplitName } from '../../shared/classify/dataset.ts';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { crc32 } from '../../shared/image/crc32.ts';
import { inflateBounded } from '../../shared/image/inflate.ts';
import { IMAGE_EXTENSIONS } from '../files/image_files.ts';
import type { DatasetItem } from './train_dataset.ts';

/**
 * A labelled dataset sent as a ZIP file: `<label>/<file>` or `<split>/<label>/<file>` (one
 * folder around it all is allowed; an image deeper than that is refused, as a PACS export's
 * patient folder would be). It is read in memory and never written anywhere.
 *
 * Refused before anything is inflated: too many entries, or declared sizes above the limits.
 * The images are inflated into one buffer of the sizes they declare (so it can be handed from
 * a worker thread at no cost): an entry that produces more than it declared is refused (a zip
 * bomb whose headers lie) after at most one bounded step.
 */
export interface ZipLimits {
  /** Entries in the archive (folders and other files included). */
  maxEntries: number;
  /** Sum of the images' uncompressed sizes. */
  maxTotalBytes: number;
  /** One image's uncompressed size (what the decoder would accept anyway). */
  maxEntryBytes: number;
}

export type ZipErrorCode = 'badZip' | 'zipTooLarge';

export class ZipError extends Error {
  override name = 'ZipError';
  constructor(
    readonly code: ZipErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ZipDataset {
  items: DatasetItem[];
  layout: 'classes' | 'splits';
  warnings: string[];
  /** Sum of the images' sizes. */
  bytes: number;
}

interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MiB`;
const bad = (message: string) => new ZipError('badZip', `not a usable ZIP file: ${message}`);

/** The central directory: every entry's name, sizes and where its data is. */
function readDirectory(zip: Uint8Array, maxEntries: number): Entry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  const u64 = (o: number) => {
    const v = view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a ZIP64 size is out of range');
    return Number(v);
  };
  if (zip.length < 22) throw bad('it is too short to be a ZIP file');
  let eocd = -1;
  for (let o = zip.length - 22; o >= Math.max(0, zip.length - 22 - 65535); o--) {
    if (u32(o) === 0x06054b50) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) throw bad('no end of central directory (is it a ZIP file, and complete?)');
  let count = u16(eocd + 10);
  let cdOffset = u32(eocd + 16);
  if ((count === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 && u32(eocd - 20) === 0x07064b50) {
    const z = u64(eocd - 12);
    if (z + 56 > zip.length || u32(z) !== 0x06064b50) throw bad('a broken ZIP64 end of central directory');
    count = u64(z + 32);
    cdOffset = u64(z + 48);
  }
  if (count > maxEntries) throw new ZipError('zipTooLarge', `the ZIP file has ${count} entries; at most ${maxEntries} are accepted`);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const entries: Entry[] = [];
  let o = cdOffset;
  for (let i = 0; i < count; i++) {
    if (o + 46 > zip.length || u32(o) !== 0x02014b50) throw bad('the central directory is damaged');
    const nameLength = u16(o + 28);
    const extraLength = u16(o + 30);
    const commentLength = u16(o + 32);
    if (o + 46 + nameLength + extraLength > zip.length) throw bad('the central directory is damaged');
    let compressed = u32(o + 20);
    let size = u32(o + 24);
    let offset = u32(o + 42);
    // ZIP64: the values that did not fit are in the extra field 0x0001, in this order.
    for (let e = o + 46 + nameLength; e + 4 <= o + 46 + nameLength + extraLength; ) {
      const id = u16(e);
      const length = u16(e + 2);
      if (id === 0x0001) {
        let f = e + 4;
        const take = () => {
          if (f + 8 > e + 4 + length) throw bad('a broken ZIP64 extra field');
          const v = u64(f);
          f += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressed === 0xffffffff) compressed = take();
        if (offset === 0xffffffff) offset = take();
      }
      e += 4 + length;
    }
    entries.push({
      name: decoder.decode(zip.subarray(o + 46, o + 46 + nameLength)),
      flags: u16(o + 8),
      method: u16(o + 10),
      crc: u32(o + 16),
      compressed,
      size,
      offset,
    });
    o += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Where an entry's data starts (after its local header), checked against the file. */
function dataOf(zip: Uint8Array, e: Entry): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  if (e.offset + 30 > zip.length || view.getUint32(e.offset, true) !== 0x04034b50) throw bad(`the local header of ${e.name} is missing`);
  const start = e.offset + 30 + view.getUint16(e.offset + 26, true) + view.getUint16(e.offset + 28, true);
  if (start + e.compressed > zip.length) throw bad(`${e.name} is cut short`);
  return zip.subarray(start, start + e.compressed);
}

/** Inflates one entry into `into` (exactly its declared size), or refuses it. */
function inflateEntry(data: Uint8Array, e: Entry, into: Uint8Array): void {
  if (e.method === 0) {
    if (e.compressed !== e.size) throw bad(`${e.name}: stored sizes disagree`);
    into.set(data);
    return;
  }
  const { length } = inflateBounded([data], e.size, {
    zlib: false,
    into,
    overBudget: () => new ZipError('zipTooLarge', `${e.name} inflates to more than the ${e.size} bytes its header declares: refused (zip bomb?)`),
    corrupt: (reason) => bad(`${e.name} cannot be inflated (${reason})`),
  });
  if (length !== e.size) throw bad(`${e.name} inflates to ${length} bytes, its header says ${e.size}`);
}

const isSplit = (s: string): s is SplitName => (SPLITS as readonly string[]).includes(s);

/**
 * Reads a dataset ZIP: checks the limits, inflates the images, and names each image's split
 * and label from its folders. It blocks while it inflates (up to the limits' worth): the
 * server runs it on a worker thread (zip.worker.ts).
 */
export function readZipDataset(zip: Uint8Array, limits: ZipLimits): ZipDataset {
  const entries = readDirectory(zip, limits.maxEntries);
  const warnings: string[] = [];
  let notImages = 0;
  const images: { entry: Entry; parts: string[] }[] = [];
  for (const entry of entries) {
    const path = entry.name.replace(/\\/g, '/');
    if (path.endsWith('/')) continue; // a folder
    const parts = path.split('/');
    // macOS resource forks and hidden files (.DS_Store) are not part of the dataset
    if (parts[0] === '__MACOSX' || parts.some((p) => p.startsWith('.') && p !== '.' && p !== '..')) continue;
    if (parts.some((p) => p === '' || p === '.' || p === '..')) throw bad(`an entry has an unsafe path (${JSON.stringify(entry.name.slice(0, 80))})`);
    if (!IMAGE_EXTENSIONS.test(path)) {
      notImages++;
      continue;
    }
    if (entry.flags & 1) throw bad(`${entry.name} is encrypted; send an unencrypted ZIP`);
    if (entry.method !== 0 && entry.method !== 8) throw bad(`${entry.name} uses compression method ${entry.method}; only stored and deflated entries are read`);
    images.push({ entry, parts });
  }
  if (notImages) warnings.push(`${notImages} file(s) that are not images (.png, .jpg, .jpeg, .dcm, .dicom) were left out`);
  if (images.length === 0) throw new ClassifyError('invalidDataset', 'the upload holds no image files (.png, .jpg, .jpeg, .dcm, .dicom)');

  // Declared sizes first: a bomb is refused before anything is inflated.
  let declared = 0;
  for (const { entry } of images) {
    if (entry.size > limits.maxEntryBytes) {
      throw new ZipError('zipTooLarge', `${entry.name} would inflate to ${MiB(entry.size)}; an image may have at most ${MiB(limits.maxEntryBytes)}`);
    }
    declared += entry.size;
  }
  if (declared > limits.maxTotalBytes) {
    throw new ZipError('zipTooLarge', `the images would inflate to ${MiB(declared)}; at most ${MiB(limits.maxTotalBytes)} are accepted (zip bomb?)`);
  }

  // One folder around everything (a zipped dataset folder) is not a class.
  const tops = new Set(images.map((i) => i.parts[0]!));
  if (tops.size === 1 && !isSplit([...tops][0]!) && images.every((i) => i.parts.length >= 3)) for (const i of images) i.parts.shift();
  const top = new Set(images.map((i) => i.parts[0]!));
  const splitTops = [...top].filter(isSplit);
  const layout: 'classes' | 'splits' = splitTops.length ? 'splits' : 'classes';
  if (layout === 'splits') {
    const others = [...top].filter((t) => !isSplit(t) && images.some((i) => i.parts[0] === t && i.parts.length > 1));
    if (others.length) {
      throw new ClassifyError(
        'invalidDataset',
        `the upload mixes split folders (${splitTops.join(', ')}) with other folders (${others.slice(0, 5).join(', ')}); use either train/ val/ test/ or one folder per class`,
      );
    }
    if (!splitTops.includes('train')) throw new ClassifyError('invalidDataset', `the upload has ${splitTops.join('/ and ')}/ but no train/ to learn from`);
  }
  const depth = layout === 'splits' ? 3 : 2;
  const expected = layout === 'splits' ? '<split>/<label>/<file>' : '<label>/<file>';
  const deep = images.find((i) => i.parts.length > depth);
  if (deep) {
    throw new ClassifyError(
      'invalidDataset',
      `${deep.entry.name.slice(0, 120)} is in a folder inside a class folder; the layout is ${expected}, nothing deeper (a patient or study folder from a PACS export would end up in the training set: send the images of each class directly in its folder)`,
    );
  }
  const loose = images.filter((i) => i.parts.length < depth).length;
  if (loose) warnings.push(`${loose} image(s) outside a class folder were left out (expected ${expected})`);

  const kept = images.filter((i) => i.parts.length === depth);
  for (const { parts } of kept) {
    const label = parts[depth - 2]!;
    if (label.length > 128) throw new ClassifyError('invalidDataset', `a class folder name is longer than 128 characters (${label.slice(0, 40)}...)`);
  }
  // One buffer for every image, of the sizes declared (checked above): nothing is allocated beyond them.
  const all = new Uint8Array(kept.reduce((n, i) => n + i.entry.size, 0));
  const items: DatasetItem[] = [];
  let at = 0;
  for (const { entry, parts } of kept) {
    const split: SplitName = layout === 'splits' ? (parts[0] as SplitName) : 'train';
    const data = all.subarray(at, at + entry.size);
    at += entry.size;
    inflateEntry(dataOf(zip, entry), entry, data);
    if (crc32(data) !== entry.crc) throw bad(`${entry.name} is damaged (its CRC-32 does not match)`);
    items.push({ name: parts.join('/'), split, label: parts[depth - 2]!, bytes: data });
  }
  return { items, layout, warnings, bytes: at };
}
