import { deflateSync, zipSync, type Zippable } from 'fflate';
import { describe, expect, it } from 'vitest';
import { inflateCounters, INFLATE_OVERSHOOT, resetInflateCounters } from '../../shared/image/inflate.ts';
import { zipBomb } from '../../test/hostile_files.ts';
import { readZipDataset as readSync, type ZipLimits } from './zip_dataset.ts';

const readZipDataset = async (z: Uint8Array, limits: ZipLimits) => readSync(z, limits);

const LIMITS: ZipLimits = { maxEntries: 1000, maxTotalBytes: 2 ** 20, maxEntryBytes: 2 ** 18 };
const png = (n: number) => Uint8Array.from({ length: 64 }, (_, i) => (i * 31 + n) & 255);
const zip = (files: Record<string, Uint8Array>, level: 0 | 6 = 6) => zipSync(files as Zippable, { level });

/** The central directory entries of a ZIP, to edit what they declare. */
function centralEntries(z: Uint8Array): number[] {
  const view = new DataView(z.buffer, z.byteOffset, z.byteLength);
  let eocd = z.length - 22;
  while (view.getUint32(eocd, true) !== 0x06054b50) eocd--;
  const out: number[] = [];
  let o = view.getUint32(eocd + 16, true);
  for (let i = 0; i < view.getUint16(eocd + 10, true); i++) {
    out.push(o);
    o += 46 + view.getUint16(o + 28, true) + view.getUint16(o + 30, true) + view.getUint16(o + 32, true);
  }
  return out;
}

describe('readZipDataset', () => {
  it('reads <split>/<label>/<file> inside one wrapping folder, skipping folders, hidden files and macOS forks', async () => {
    const z = zip({
      'set/train/a/1.png': png(1),
      'set/train/b/2.png': png(2),
      'set/test/a/3.PNG': png(3),
      'set/train/b/.DS_Store': png(4),
      'set/README.txt': png(5),
      '__MACOSX/set/train/a/._1.png': png(6),
    });
    const d = await readZipDataset(z, LIMITS);
    expect(d.layout).toBe('splits');
    expect(d.items.map(({ name, split, label }) => ({ name, split, label }))).toEqual([
      { name: 'train/a/1.png', split: 'train', label: 'a' },
      { name: 'train/b/2.png', split: 'train', label: 'b' },
      { name: 'test/a/3.PNG', split: 'test', label: 'a' },
    ]);
    expect(d.items[2]!.bytes).toEqual(png(3));
    expect(d.warnings).toEqual(['1 file(s) that are not images (.png, .jpg, .jpeg, .dcm, .dicom) were left out']);
  });

  it('reads <label>/<file> (stored or deflated) as all train', async () => {
    for (const level of [0, 6] as const) {
      const d = await readZipDataset(zip({ 'benign/x.png': png(1), 'malignant/y.jpg': png(2) }, level), LIMITS);
      expect(d.layout).toBe('classes');
      expect(d.items.map((i) => [i.name, i.split, i.label])).toEqual([
        ['benign/x.png', 'train', 'benign'],
        ['malignant/y.jpg', 'train', 'malignant'],
      ]);
      expect(d.items[1]!.bytes).toEqual(png(2));
    }
  });

  it('refuses images deeper than the layout (a PACS export: <label>/<patient>/<file>), whatever wraps them', async () => {
    for (const files of <Record<string, Uint8Array>[]>[
      { 'benign/a.png': png(1), 'benign/DOE_JANE/IM0001.dcm': png(2) },
      { 'set/benign/a.png': png(1), 'set/benign/DOE_JANE/IM0001.dcm': png(2) },
      { 'train/benign/a.png': png(1), 'train/benign/DOE_JANE/IM0001.dcm': png(2) },
    ]) {
      await expect(readZipDataset(zip(files), LIMITS)).rejects.toMatchObject({
        code: 'invalidDataset',
        message: expect.stringMatching(/DOE_JANE\/IM0001\.dcm is in a folder inside a class folder; the layout is <(split>\/<)?label>\/<file>, nothing deeper/),
      });
    }
  });

  it('refuses what is not a dataset ZIP', async () => {
    await expect(readZipDataset(new Uint8Array(100).fill(7), LIMITS)).rejects.toMatchObject({ code: 'badZip' });
    await expect(readZipDataset(zip({ 'a/1.png': png(1) }).subarray(0, 40), LIMITS)).rejects.toMatchObject({ code: 'badZip' });
    await expect(readZipDataset(zip({ 'notes.txt': png(1) }), LIMITS)).rejects.toMatchObject({ code: 'invalidDataset', message: expect.stringMatching(/no image files/) });
    await expect(readZipDataset(zip({ 'train/a/1.png': png(1), 'b/2.png': png(2) }), LIMITS)).rejects.toMatchObject({ code: 'invalidDataset', message: expect.stringMatching(/mixes split folders/) });
    await expect(readZipDataset(zip({ 'test/a/1.png': png(1) }), LIMITS)).rejects.toMatchObject({ message: expect.stringMatching(/no train\//) });
    await expect(readZipDataset(zip({ 'a/../../etc/1.png': png(1) }), LIMITS)).rejects.toMatchObject({ code: 'badZip', message: expect.stringMatching(/unsafe path/) });
    // a flipped byte in the data: the CRC-32 tells
    const z = zip({ 'a/1.png': png(1), 'b/2.png': png(2) }, 0);
    z[30 + 'a/1.png'.length + 5]! ^= 1;
    await expect(readZipDataset(z, LIMITS)).rejects.toMatchObject({ code: 'badZip', message: expect.stringMatching(/CRC-32/) });
  });

  it('refuses zip bombs: too many entries, too large declared sizes, and entries that inflate past what they declare', async () => {
    const many = zip(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`a/${i}.png`, png(i)])));
    await expect(readZipDataset(many, { ...LIMITS, maxEntries: 10 })).rejects.toMatchObject({ code: 'zipTooLarge', message: expect.stringMatching(/12 entries/) });

    const big = zip({ 'a/1.png': new Uint8Array(LIMITS.maxEntryBytes + 1), 'b/2.png': png(2) });
    await expect(readZipDataset(big, LIMITS)).rejects.toMatchObject({ code: 'zipTooLarge', message: expect.stringMatching(/an image may have at most/) });

    const total = zip(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`${i % 2}/${i}.png`, new Uint8Array(LIMITS.maxEntryBytes - 1)])));
    await expect(readZipDataset(total, LIMITS)).rejects.toMatchObject({ code: 'zipTooLarge', message: expect.stringMatching(/zip bomb/) });

    // headers that lie: 4 MiB of zeros declared as 100 bytes
    const lying = zip({ 'a/1.png': new Uint8Array(4 * 2 ** 20), 'b/2.png': png(2) });
    const view = new DataView(lying.buffer);
    for (const o of centralEntries(lying)) if (view.getUint32(o + 24, true) > 1000) view.setUint32(o + 24, 100, true);
    await expect(readZipDataset(lying, LIMITS)).rejects.toMatchObject({ code: 'zipTooLarge', message: expect.stringMatching(/more than the 100 bytes its header declares/) });
    expect(deflateSync(new Uint8Array(4 * 2 ** 20)).length).toBeLessThan(8000);
  });

  it('inflates no more than the images declare: entries declaring 256 KiB that inflate to 4 MiB are refused after one bounded step', async () => {
    const bomb = zipBomb(2, 4 * 2 ** 20);
    const view = new DataView(bomb.buffer);
    for (const o of centralEntries(bomb)) view.setUint32(o + 24, 2 ** 18, true);
    resetInflateCounters();
    await expect(readZipDataset(bomb, LIMITS)).rejects.toMatchObject({ code: 'zipTooLarge' });
    expect(inflateCounters.bytesOut).toBeLessThanOrEqual(2 ** 18 + INFLATE_OVERSHOOT);
  });
});
