/**
 * DICOM decoding (docs/features.md section 1), header facts, limits and refusals, and
 * de-identification, on the 19 real files of test/data/datasets/dicom (their manifest says
 * what each holds) and on small synthetic files for what the real ones do not cover.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { MedclassError } from '../shared/errors.ts';
import type { GreyImage } from '../shared/image/grey.ts';
import {
  codecLoaded,
  decodeDicom,
  decodeDicomSync,
  deidentifyWithReport,
  dicomDecoder,
  loadDicomCodecs,
  readDicomInfo,
} from '../shared/image/dicom/index.ts';
import { decodeDct } from '../shared/image/dicom/jpeg_dct.ts';
import { dicomParser } from '../shared/image/dicom/parse.ts';
import { decodeImage, DEFAULT_DECODE_LIMITS, supportedFormats } from '../shared/image/index.ts';
import {
  BROKEN,
  buildDicom,
  DEFLATED,
  expectedInfo,
  EXPLICIT_BE,
  EXPLICIT_LE,
  greyByHand,
  imageElements,
  IMPLICIT_LE,
  maxAbsDifference,
  pick,
  refusal,
  type Manifest,
  sameValues,
  containsText,
  sequenceValue,
  oneBitDicom,
  type SyntheticElement,
} from './dicom_helpers.ts';
import { dataset } from './golden.ts';

const DIR = dataset('dicom');
const manifest = JSON.parse(readFileSync(join(DIR, 'dicom_manifest.json'), 'utf8')) as Manifest;
const read = (file: string) => new Uint8Array(readFileSync(join(DIR, file)));
const decodable = manifest.files.filter((m) => !BROKEN[m.file]);

const greyStats = (g: GreyImage) => {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of g.data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  return { min, max, mean: sum / g.data.length };
};

describe('before the WebAssembly codecs are loaded', () => {
  it('decodes native, RLE, deflated and JPEG lossless synchronously, and says what to do for the others', async () => {
    expect(codecLoaded('jpeg2000')).toBe(false);
    expect(supportedFormats()).toContain('dicom');
    for (const file of ['CT_small.dcm', 'MR_small_RLE.dcm', 'image_dfl.dcm', 'XA_00191113_gdcm_example.dcm', 'JPGExtended.dcm']) {
      const image = decodeImage(read(file));
      expect(image.data).toBeInstanceOf(Float32Array);
    }
    const e = await refusal(() => decodeImage(read('JPEG2000.dcm')));
    expect(e.code).toBe('unsupportedFormat');
    expect(e.message).toMatch(/JPEG 2000 \(OpenJPEG\) frames need a WebAssembly codec that is not loaded yet: await loadDicomCodecs\(\)/);
  });
});

describe('the manifest files', () => {
  beforeAll(() => loadDicomCodecs());

  it('are the files the manifest describes', () => {
    for (const m of manifest.files) {
      const bytes = read(m.file);
      expect(bytes.length, m.file).toBe(m.bytes);
      expect(createHash('md5').update(bytes).digest('hex'), m.file).toBe((m as unknown as { md5: string }).md5);
    }
    expect(manifest.files).toHaveLength(19);
    expect(Object.keys(BROKEN).every((f) => manifest.files.some((m) => m.file === f))).toBe(true);
  });

  it.each(decodable.map((m) => [m.file, m] as const))('%s decodes with the manifest header facts', async (file, m) => {
    const bytes = read(file);
    const expected = expectedInfo(m);
    const info = readDicomInfo(bytes);
    expect(pick(info, expected)).toEqual(expected);
    const start = performance.now();
    const image = await decodeDicom(bytes);
    const ms = performance.now() - start;
    expect([image.width, image.height]).toEqual([m.cols, m.rows]);
    const { min, max, mean } = greyStats(image);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(min); // a real image, not a flat frame
    // the registered decoder gives the same, synchronously, now that the codecs are loaded
    expect(sameValues(decodeImage(bytes).data, image.data)).toBe(true);
    console.log(
      `[dicom] ${file}: ${info.transferSyntax}, ${info.photometricInterpretation}, ${info.columns}x${info.rows}x${info.numberOfFrames}, ` +
        `${info.bitsStored}/${info.bitsAllocated} bits -> grey min ${min.toFixed(3)} max ${max.toFixed(3)} mean ${mean.toFixed(4)} (${ms.toFixed(0)} ms)`,
    );
  });

  it.each(Object.entries(BROKEN))('%s is refused with a specific message', async (file, { manifestFailure, message }) => {
    const m = manifest.files.find((f) => f.file === file)!;
    expect(m.decode_here).toMatch(manifestFailure); // the reference reader fails on it too
    const bytes = read(file);
    const e = await refusal(() => decodeDicom(bytes));
    expect(e.code).toBe('corruptImage');
    expect(e.message).toMatch(message);
    if (file === 'no_meta.dcm') {
      expect(() => readDicomInfo(bytes)).toThrow(message);
      // not recognised as DICOM at all by the decoder list
      expect((await refusal(() => decodeImage(bytes))).code).toBe('unsupportedFormat');
    } else {
      // the header alone is intact: its facts are still shown
      const expected = expectedInfo(m);
      expect(pick(readDicomInfo(bytes), expected)).toEqual(expected);
      const viaList = await refusal(() => decodeImage(bytes));
      expect([viaList.code, viaList.message]).toEqual([e.code, e.message]);
    }
    console.log(`[dicom] ${file}: refused: ${e.message}`);
  });

  it('decodes every frame of multi-frame files, the first by default, and refuses frames that do not exist', async () => {
    const xa = read('XA_00191113_gdcm_example.dcm');
    const frames = await Promise.all([0, 1, 2, 3].map((frame) => decodeDicom(xa, { frame })));
    expect(sameValues((await decodeDicom(xa)).data, frames[0]!.data)).toBe(true);
    expect(sameValues(frames[1]!.data, frames[0]!.data)).toBe(false);
    const rgb = read('SC_rgb_rle_2frame.dcm');
    expect(sameValues((await decodeDicom(rgb, { frame: 1 })).data, (await decodeDicom(rgb)).data)).toBe(false);
    const emri = read('emri_small.dcm');
    for (const frame of [1, 9]) expect((await decodeDicom(emri, { frame })).width).toBe(64);
    const e = await refusal(() => decodeDicom(xa, { frame: 4 }));
    expect([e.code, e.message]).toEqual(['invalidSpec', 'frame 4 requested, but the DICOM object has 4 frame(s) (0 to 3)']);
  });
});

describe('grey values computed by hand from the raw bytes (PS3.3 C.11.2.1.2.1, docs/features.md section 1)', () => {
  it.each([
    ['CT_small.dcm', 0],
    ['MR_small.dcm', 0],
    ['emri_small.dcm', 0],
    ['emri_small.dcm', 7],
  ] as const)('%s frame %d agrees within 1/255', async (file, frame) => {
    const bytes = read(file);
    const hand = greyByHand(bytes, frame);
    const image = await decodeDicom(bytes, { frame });
    expect([image.width, image.height]).toEqual([hand.width, hand.height]);
    const margin = maxAbsDifference(image.data, hand.data);
    console.log(`[dicom] by hand, ${file} frame ${frame}: max |difference| ${margin.toExponential(2)} (limit ${(1 / 255).toExponential(2)})`);
    expect(margin).toBeLessThanOrEqual(1 / 255);
    // docs/features.md: in double, rounded once to float32, so in fact equal to the float32 of the double result
    expect(sameValues(image.data, Float32Array.from(hand.data))).toBe(true);
  });
});

describe('compressed frames against their lossless twins and a second decoder', () => {
  beforeAll(() => loadDicomCodecs());

  it('RLE and JPEG-LS copies of MR_small decode to exactly its pixels', async () => {
    const reference = (await decodeDicom(read('MR_small.dcm'))).data;
    for (const file of ['MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm']) expect(sameValues((await decodeDicom(read(file))).data, reference)).toBe(true);
  });

  it('12-bit JPEG (own DCT decoder) spans the range a reference decoder gives', () => {
    const bytes = read('JPGExtended.dcm');
    const ds = dicomParser.parseDicom(bytes);
    const pixel = ds.elements['x7fe00010']!;
    const fragment = pixel.fragments![0]!;
    const image = decodeDct(bytes.subarray(fragment.position, fragment.position + fragment.length), 1e7);
    expect([image.width, image.height, image.components, image.precision]).toEqual([256, 1024, 1, 12]);
    const min = image.data.reduce((a, b) => Math.min(a, b), Infinity);
    const max = image.data.reduce((a, b) => Math.max(a, b), -Infinity);
    // (0028,0106) and (0028,0107) describe the image before lossy compression (0 and 278);
    // dcmtk 3.6.7 (libijg12) decodes this frame to 0..264, and to within one unit of ours at every pixel
    expect(min).toBe(ds.uint16('x00280106'));
    expect(ds.uint16('x00280107')).toBe(278);
    expect(Math.abs(max - 264)).toBeLessThanOrEqual(1);
  });

  it('the own DCT decoder agrees with libjpeg-turbo on 8-bit YBR_FULL JPEG', async () => {
    const bytes = read('SC_rgb_jpeg_dcmtk.dcm');
    const ds = dicomParser.parseDicom(bytes);
    const fragment = ds.elements['x7fe00010']!.fragments![0]!;
    const raw = decodeDct(bytes.subarray(fragment.position, fragment.position + fragment.length), 1e7);
    // YBR_FULL to RGB by docs/features.md section 1, then BT.601 grey
    const grey = new Float64Array(raw.width * raw.height);
    const c8 = (t: number) => Math.min(255, Math.max(0, Math.floor(t + 0.5)));
    for (let i = 0; i < grey.length; i++) {
      const [y, cb, cr] = [raw.data[3 * i]!, raw.data[3 * i + 1]! - 128, raw.data[3 * i + 2]! - 128];
      const r = c8(y + 1.402 * cr);
      const g = c8(y - ((0.114 * 1.772) / 0.587) * cb - ((0.299 * 1.402) / 0.587) * cr);
      const b = c8(y + 1.772 * cb);
      grey[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    }
    const margin = maxAbsDifference((await decodeDicom(bytes)).data, grey);
    console.log(`[dicom] own DCT + FEATURES YBR formula vs libjpeg-turbo on SC_rgb_jpeg_dcmtk: max |difference| ${(margin * 255).toFixed(2)}/255`);
    expect(margin).toBeLessThanOrEqual(3 / 255);
  });
});

/** A 16-bit signed monochrome image of the given stored values. */
const mono16 = (values: number[], extra: SyntheticElement[] = [], photometric = 'MONOCHROME2') => {
  const pixelData = new Uint8Array(values.length * 2);
  const dv = new DataView(pixelData.buffer);
  values.forEach((v, i) => dv.setInt16(2 * i, v, true));
  return buildDicom(imageElements({ rows: 1, columns: values.length, bitsAllocated: 16, signed: true, photometric, pixelData, extra }));
};
const ds = (tag: number, value: string): SyntheticElement => ({ tag, vr: 'DS', value });
const grey = (bytes: Uint8Array) => Array.from(decodeDicomSync(bytes).data);

describe('docs/features.md section 1 on synthetic files', () => {
  it('rescales, then applies the first window by the linear function, with its w = 1 and w < 1 rules', () => {
    const values = [-100, 0, 50, 200, 25];
    const rescale = [ds(0x00281053, '2'), ds(0x00281052, '-10')];
    const linear = (x: number, c: number, w: number) =>
      x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    const xs = values.map((v) => v * 2 - 10);
    const windowed = mono16(values, [...rescale, ds(0x00281050, '40\\999'), ds(0x00281051, '101\\5')]);
    expect(grey(windowed)).toEqual(xs.map((x) => Math.fround(linear(x, 40, 101))));
    expect(grey(mono16(values, [...rescale, ds(0x00281050, '40'), ds(0x00281051, '1')]))).toEqual(xs.map((x) => (x > 39.5 ? 1 : 0)));
    // a width below 1 counts as absent: min and max of the frame
    const minmax = xs.map((x) => Math.fround((x - -210) / (390 - -210)));
    expect(grey(mono16(values, [...rescale, ds(0x00281050, '40'), ds(0x00281051, '0.5')]))).toEqual(minmax);
    expect(grey(mono16(values, rescale))).toEqual(minmax);
    // MONOCHROME1 takes 1 - v; a flat frame is 0 (so 1 inverted)
    expect(grey(mono16(values, rescale, 'MONOCHROME1'))).toEqual(xs.map((x) => Math.fround(1 - (x - -210) / 600)));
    expect(grey(mono16([7, 7, 7]))).toEqual([0, 0, 0]);
    expect(grey(mono16([7, 7, 7], [], 'MONOCHROME1'))).toEqual([1, 1, 1]);
  });

  it('takes rescale and window from the functional groups of an enhanced multi-frame object', () => {
    const values = [-100, 0, 50, 200, 25, 60];
    const pixelData = new Uint8Array(values.length * 2);
    values.forEach((v, i) => new DataView(pixelData.buffer).setInt16(2 * i, v, true));
    const sq = (tag: number, items: SyntheticElement[][]): SyntheticElement => ({ tag, vr: 'SQ', value: sequenceValue(items) });
    const shared = sq(0x52009229, [[sq(0x00289145, [[ds(0x00281053, '2'), ds(0x00281052, '-10')]])]]);
    const perFrame = sq(0x52009230, [
      [sq(0x00289132, [[ds(0x00281050, '40'), ds(0x00281051, '101')]])],
      [sq(0x00289132, [[ds(0x00281050, '100'), ds(0x00281051, '11')]])],
    ]);
    const bytes = buildDicom(
      imageElements({ rows: 1, columns: 3, bitsAllocated: 16, signed: true, frames: 2, pixelData, extra: [shared, perFrame] }),
    );
    const linear = (x: number, c: number, w: number) =>
      x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    expect(Array.from(decodeDicomSync(bytes).data)).toEqual([-100, 0, 50].map((v) => Math.fround(linear(2 * v - 10, 40, 101))));
    expect(Array.from(decodeDicomSync(bytes, { frame: 1 }).data)).toEqual([200, 25, 60].map((v) => Math.fround(linear(2 * v - 10, 100, 11))));
  });

  it('keeps only Bits Stored below High Bit, sign-extended', () => {
    // 12 stored bits at the top of 16 (High Bit 15), junk in the low 4; then 12 at the bottom with junk above
    const stored = [-2048, -1, 0, 2047];
    const top = new Uint8Array(8);
    const bottom = new Uint8Array(8);
    stored.forEach((v, i) => {
      new DataView(top.buffer).setUint16(2 * i, ((v & 0xfff) << 4) | 0xf, true);
      new DataView(bottom.buffer).setUint16(2 * i, (v & 0xfff) | 0xa000, true);
    });
    const expected = stored.map((v) => Math.fround((v + 2048) / 4095));
    const image = (pixelData: Uint8Array, highBit: number) =>
      buildDicom(imageElements({ rows: 1, columns: 4, bitsAllocated: 16, bitsStored: 12, highBit, signed: true, pixelData }));
    expect(grey(image(top, 15))).toEqual(expected);
    expect(grey(image(bottom, 11))).toEqual(expected);
  });

  it('turns RGB (either planar configuration), YBR_FULL, YBR_FULL_422 and palette colour into BT.601 grey', () => {
    const bt601 = (r: number, g: number, b: number) => Math.fround((0.299 * r + 0.587 * g + 0.114 * b) / 255);
    const rgb = [200, 10, 30, 0, 255, 128];
    const interleaved = buildDicom(imageElements({ rows: 1, columns: 2, samplesPerPixel: 3, photometric: 'RGB', pixelData: Uint8Array.from(rgb) }));
    const planar = buildDicom(
      imageElements({ rows: 1, columns: 2, samplesPerPixel: 3, photometric: 'RGB', planar: 1, pixelData: Uint8Array.from([200, 0, 10, 255, 30, 128]) }),
    );
    expect(grey(interleaved)).toEqual([bt601(200, 10, 30), bt601(0, 255, 128)]);
    expect(grey(planar)).toEqual(grey(interleaved));
    const c8 = (t: number) => Math.min(255, Math.max(0, Math.floor(t + 0.5)));
    const ybr = (y: number, cb: number, cr: number) =>
      bt601(
        c8(y + 1.402 * (cr - 128)),
        c8(y - ((0.114 * 1.772) / 0.587) * (cb - 128) - ((0.299 * 1.402) / 0.587) * (cr - 128)),
        c8(y + 1.772 * (cb - 128)),
      );
    const full = buildDicom(
      imageElements({ rows: 1, columns: 2, samplesPerPixel: 3, photometric: 'YBR_FULL', pixelData: Uint8Array.from([81, 90, 240, 145, 54, 34]) }),
    );
    expect(grey(full)).toEqual([ybr(81, 90, 240), ybr(145, 54, 34)]);
    // 4:2:2: Y1 Y2 Cb Cr, the chroma shared by both pixels
    const half = buildDicom(
      imageElements({ rows: 1, columns: 2, samplesPerPixel: 3, photometric: 'YBR_FULL_422', pixelData: Uint8Array.from([81, 145, 90, 240]) }),
    );
    expect(grey(half)).toEqual([ybr(81, 90, 240), ybr(145, 90, 240)]);
    // palette: first mapped value 10, indices below and above the table clamp to its ends; 16-bit entries keep the high byte
    const lut = (entries: number[]) => {
      const b = new Uint8Array(entries.length * 2);
      entries.forEach((v, i) => new DataView(b.buffer).setUint16(2 * i, v, true));
      return b;
    };
    const palette = buildDicom(
      imageElements({
        rows: 1,
        columns: 4,
        photometric: 'PALETTE COLOR',
        pixelData: Uint8Array.from([0, 10, 12, 200]),
        extra: [
          { tag: 0x00281101, vr: 'US', value: [3, 10, 16] },
          { tag: 0x00281102, vr: 'US', value: [3, 10, 16] },
          { tag: 0x00281103, vr: 'US', value: [3, 10, 16] },
          { tag: 0x00281201, vr: 'OW', value: lut([0x0000, 0x8000, 0xffff]) },
          { tag: 0x00281202, vr: 'OW', value: lut([0xffff, 0x4000, 0x0000]) },
          { tag: 0x00281203, vr: 'OW', value: lut([0x1000, 0x1000, 0x1000]) },
        ],
      }),
    );
    expect(grey(palette)).toEqual([bt601(0, 255, 16), bt601(0, 255, 16), bt601(255, 0, 16), bt601(255, 0, 16)]);
  });

  it('reads the same image from explicit and implicit VR, big endian and deflated files', () => {
    const values = [0, 1000, -1000, 4095, 17, -2];
    const words = (le: boolean) => {
      const b = new Uint8Array(values.length * 2);
      values.forEach((v, i) => new DataView(b.buffer).setInt16(2 * i, v, le));
      return b;
    };
    const build = (syntax: string, transform?: (d: Uint8Array) => Uint8Array) =>
      buildDicom(
        imageElements({ rows: 2, columns: 3, bitsAllocated: 16, signed: true, pixelData: words(syntax !== EXPLICIT_BE), extra: [ds(0x00281050, '100'), ds(0x00281051, '3000')] }),
        syntax,
        transform,
      );
    const reference = grey(build(EXPLICIT_LE));
    expect(reference).toHaveLength(6);
    expect(grey(build(IMPLICIT_LE))).toEqual(reference);
    expect(grey(build(EXPLICIT_BE))).toEqual(reference);
    expect(grey(build(DEFLATED, (d) => deflateSync(d)))).toEqual(reference);
    expect(readDicomInfo(build(DEFLATED, (d) => deflateSync(d))).windowCenter).toEqual([100]);
  });

  it('refuses colour with more than 8 bits per sample', async () => {
    const e = await refusal(() =>
      decodeDicomSync(buildDicom(imageElements({ rows: 1, columns: 1, samplesPerPixel: 3, photometric: 'RGB', bitsAllocated: 16, pixelData: new Uint8Array(6) }))),
    );
    expect([e.code, e.message]).toEqual([
      'unsupportedFormat',
      'DICOM colour (RGB) with 16 bits per sample is refused: colour must have 8 bits per sample (docs/features.md section 1)',
    ]);
  });
});

describe('1-bit DICOM (Bits Allocated 1, as segmentation masks are stored)', () => {
  // 5 x 7 = 35 bits a frame: frames 2 and 3 start in the middle of a byte
  const [rows, columns] = [5, 7];
  const masks = [0, 1, 2].map((f) => Array.from({ length: rows * columns }, (_, i) => ((i * 7 + f * 3) % 5 < 2 ? 1 : 0)));

  it('unpacks the bits LSB first, frame after frame, to grey 0 and 1 (docs/features.md section 1)', async () => {
    for (const syntax of [EXPLICIT_LE, IMPLICIT_LE, DEFLATED]) {
      const bytes = oneBitDicom(rows, columns, masks, syntax, syntax === DEFLATED ? (d) => deflateSync(d) : undefined);
      for (const [frame, mask] of masks.entries()) {
        const image = decodeDicomSync(bytes, { frame });
        expect([image.width, image.height]).toEqual([columns, rows]);
        expect(Array.from(image.data), `${syntax} frame ${frame}`).toEqual(mask);
      }
      // through the decoder list too (the first frame)
      expect(Array.from((await decodeDicom(bytes)).data)).toEqual(masks[0]);
      expect(Array.from(decodeImage(bytes).data)).toEqual(masks[0]);
    }
    const info = readDicomInfo(oneBitDicom(rows, columns, masks));
    expect(pick(info, { bitsAllocated: 1, bitsStored: 1, numberOfFrames: 3, photometricInterpretation: 'MONOCHROME2' })).toEqual({
      bitsAllocated: 1,
      bitsStored: 1,
      numberOfFrames: 3,
      photometricInterpretation: 'MONOCHROME2',
    });
  });

  it('reads the bits by hand, independently of the decoder', () => {
    // one byte 0b1000_0101: pixels 0, 2 and 7 set
    const bytes = oneBitDicom(1, 8, [[1, 0, 1, 0, 0, 0, 0, 1]]);
    const pixelStart = bytes.length - 2; // one byte, padded to two
    expect(bytes[pixelStart]).toBe(0b1000_0101);
    expect(Array.from(decodeDicomSync(bytes).data)).toEqual([1, 0, 1, 0, 0, 0, 0, 1]);
  });

  it('refuses 1-bit data that is short of its frames, saying how much is missing', async () => {
    const short = buildDicom(imageElements({ rows: 16, columns: 16, bitsAllocated: 1, bitsStored: 1, highBit: 0, frames: 2, pixelData: new Uint8Array(40) }));
    const e = await refusal(() => decodeDicom(short));
    expect(e.code).toBe('corruptImage');
    expect(e.message).toBe('DICOM pixel data holds 40 bytes, but 2 frame(s) of 16x16 with 1 sample(s) of 1 bits need 64');
    const colour = buildDicom(imageElements({ rows: 1, columns: 8, bitsAllocated: 1, bitsStored: 1, highBit: 0, samplesPerPixel: 3, photometric: 'RGB', pixelData: new Uint8Array(4) }));
    expect((await refusal(() => decodeDicom(colour))).message).toBe('DICOM Bits Allocated 1 is read for MONOCHROME1 and MONOCHROME2 only, not RGB');
  });
});

describe('limits and broken files, refused before decoding with specific messages', () => {
  beforeAll(() => loadDicomCodecs());
  const tiny = { maxBytes: 1 << 20, maxPixels: 10_000 };

  it('refuses a pixel flood from the header alone', async () => {
    const flood = buildDicom(imageElements({ rows: 65535, columns: 65535, pixelData: new Uint8Array(16) }));
    expect(dicomDecoder.dimensions(flood)).toEqual({ width: 65535, height: 65535 });
    let e = await refusal(() => decodeImage(flood));
    expect([e.code, e.message]).toEqual(['imageTooLarge', 'dicom declares 65535x65535 pixels, more than the limit of 40,000,000']);
    e = await refusal(() => decodeDicom(flood));
    expect(e.message).toBe('DICOM declares 1 frame(s) of 65535x65535 pixels (4,294,836,225 in all), more than the limit of 40,000,000');
    const frames = buildDicom(imageElements({ rows: 512, columns: 512, frames: 1000, pixelData: new Uint8Array(16) }));
    e = await refusal(() => decodeImage(frames));
    expect([e.code, e.message]).toEqual([
      'imageTooLarge',
      'DICOM declares 1000 frame(s) of 512x512 pixels (262,144,000 in all), more than the limit of 40,000,000',
    ]);
    e = await refusal(() => decodeDicom(read('RG3_J2KI.dcm'), { limits: tiny }));
    expect(e.message).toBe('DICOM declares 1 frame(s) of 1760x1760 pixels (3,097,600 in all), more than the limit of 10,000');
    e = await refusal(() => decodeDicom(read('US1_UNCR.dcm'), { limits: tiny }));
    expect(e.message).toBe('DICOM declares 1 frame(s) of 640x480 pixels (307,200 in all), more than the limit of 10,000');
    e = await refusal(() => decodeDicom(read('US1_UNCR.dcm'), { limits: { ...tiny, maxBytes: 100_000 } }));
    expect(e.message).toBe('file is 922.9 kB, more than the limit of 100 kB');
  });

  it('refuses deflate bombs, in the header and in the data set', async () => {
    // a small image followed by 24 MiB of trailing padding: inflation stops at the cap the header implies
    const pixels = imageElements({ rows: 8, columns: 8, pixelData: new Uint8Array(64) });
    const bomb = buildDicom([...pixels, { tag: 0xfffcfffc, vr: 'OB', value: new Uint8Array(24 << 20) }], DEFLATED, (d) => deflateSync(d));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(dicomDecoder.dimensions(bomb)).toEqual({ width: 8, height: 8 });
    let e = await refusal(() => decodeImage(bomb));
    expect(e.code).toBe('imageTooLarge');
    expect(e.message).toMatch(/^DICOM deflated data set inflates to more than \d+ bytes from \d+: refused as a decompression bomb$/);
    // 24 MiB of private data before the image: the header alone is capped at 16 MiB
    const early = buildDicom([{ tag: 0x00091010, vr: 'OB', value: new Uint8Array(24 << 20) }, ...pixels], DEFLATED, (d) => deflateSync(d));
    e = await refusal(() => decodeImage(early));
    expect(e.message).toMatch(/^DICOM deflated data set inflates to more than 16777216 bytes/);
    e = await refusal(() => readDicomInfo(early));
    expect(e.code).toBe('imageTooLarge');
  });

  it('refuses compressed streams that declare another size than the header (decompression bombs)', async () => {
    const jpeg = read('SC_rgb_jpeg_dcmtk.dcm');
    const forged = jpeg.slice();
    const sof = forged.findIndex((b, i) => b === 0xff && forged[i + 1] === 0xc0);
    forged.set([0xfd, 0xe8], sof + 7); // width 65000
    let e = await refusal(() => decodeDicom(forged));
    expect([e.code, e.message]).toEqual([
      'corruptImage',
      'JPEG stream declares 65000x100 pixels, but the DICOM header says 100x100 (Columns x Rows): corrupt or forged, refused before decoding',
    ]);
    const rle = read('OBXXXX1A_rle.dcm').slice();
    const fragment = dicomParser.parseDicom(rle).elements['x7fe00010']!.fragments![0]!;
    rle[fragment.position] = 7;
    e = await refusal(() => decodeDicom(rle));
    expect(e.message).toBe('DICOM RLE: header lists 7 segments, but 1 sample(s) of 1 byte(s) need 1');
  });

  it('refuses truncated files, saying what is missing', async () => {
    const ct = read('CT_small.dcm');
    let e = await refusal(() => decodeDicom(ct.subarray(0, 30000)));
    expect(e.message).toBe(`DICOM pixel data is truncated: 32768 bytes declared, ${30000 - 6300} present`);
    e = await refusal(() => decodeDicom(ct.subarray(0, 1000)));
    expect(e.code).toBe('corruptImage');
    expect(e.message).toMatch(/^DICOM file is truncated/);
    const rle = read('MR_small_RLE.dcm');
    e = await refusal(() => decodeDicom(rle.subarray(0, 5000)));
    expect(e.message).toMatch(/^DICOM pixel data is truncated: fragment 1 declares 6\d+ bytes, \d+ present$/);
    e = await refusal(() => decodeDicom(ct.subarray(0, 100)));
    expect(e.message).toBe("not a DICOM Part 10 file: 100 bytes, too short for the 128-byte preamble and 'DICM'");
    const short = buildDicom(imageElements({ rows: 64, columns: 64, pixelData: new Uint8Array(100) }));
    e = await refusal(() => decodeDicom(short));
    expect(e.message).toBe('DICOM pixel data holds 100 bytes, but 1 frame(s) of 64x64 with 1 sample(s) of 8 bits need 4096');
  });

  it('refuses a corrupt JPEG 2000 body, and decodes again afterwards', async () => {
    const j2k = read('JPEG2000.dcm').slice();
    const fragment = dicomParser.parseDicom(j2k).elements['x7fe00010']!.fragments![0]!;
    // keep SOC, SIZ and the headers; destroy the marker structure after them
    for (let i = fragment.position + 110; i < fragment.position + fragment.length; i++) j2k[i] = 0xff;
    const result = await decodeDicom(j2k).then(
      () => 'decoded',
      (e: unknown) => e,
    );
    if (result !== 'decoded') {
      expect(result).toBeInstanceOf(MedclassError);
      expect((result as MedclassError).code).toBe('corruptImage');
      expect((result as MedclassError).message).toMatch(/^JPEG 2000 \(OpenJPEG\) could not decode the frame/);
    }
    console.log(`[dicom] JPEG 2000 with a destroyed body: ${result === 'decoded' ? 'decoded (OpenJPEG tolerates it)' : (result as Error).message}`);
    expect((await decodeDicom(read('JPEG2000.dcm'))).width).toBe(256);
  });
});

/** Identifying values of a data set (nested items too), as byte strings to look for. */
function identifyingValues(bytes: Uint8Array): { what: string; value: string }[] {
  const { data, meta } = parse(bytes);
  const out: { what: string; value: string }[] = [];
  // patient names and IDs, birth date, accession number, physicians' names; and instance UIDs
  const names = new Set(['x00100010', 'x00100020', 'x00100030', 'x00101000', 'x00101001', 'x00101005', 'x00080050', 'x00080090', 'x00020003']);
  const keep = new Set(['x00080016', 'x00081150', 'x00020002', 'x00020010', 'x00020012']);
  const walk = (set: typeof data) => {
    for (const [tag, el] of Object.entries(set.elements)) {
      if (el.items) for (const item of el.items) if (item.dataSet) walk(item.dataSet);
      if (el.items || tag === 'x7fe00010' || !el.length || el.length > 256) continue;
      const value = set.string(tag)?.replace(/\0/g, '').trim();
      if (!value || value.length < 3) continue;
      if (names.has(tag) || el.vr === 'PN') out.push({ what: tag, value });
      else if (el.vr === 'UI' && !keep.has(tag) && !value.startsWith('1.2.840.10008.')) for (const uid of value.split('\\')) out.push({ what: tag, value: uid });
    }
  };
  walk(data);
  walk(meta);
  return out;
}

/** dicom-parser on the file meta and on the data set apart, inflating a deflated data set first. */
const parse = (bytes: Uint8Array) => {
  const meta = dicomParser.readPart10Header(bytes);
  const position = (meta as unknown as { position: number }).position;
  if (meta.string('x00020010') !== DEFLATED) return { meta, data: dicomParser.parseDicom(bytes) };
  const inflated = inflateSync(bytes.subarray(position));
  return { meta, data: dicomParser.parseDicom(inflated, { TransferSyntaxUID: EXPLICIT_LE }) };
};

function inflateDataSet(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateSync(bytes.subarray(position));
  const out = new Uint8Array(position + inflated.length);
  out.set(bytes.subarray(0, position));
  out.set(inflated, position);
  return out;
}

/** The file with a deflated data set inflated, so that its values can be searched. */
const searchable = (bytes: Uint8Array): Uint8Array => {
  const ts = readDicomInfo(bytes).transferSyntaxUID;
  if (ts !== DEFLATED) return bytes;
  const meta = dicomParser.readPart10Header(bytes) as unknown as { position: number };
  return inflateDataSet(bytes, meta.position);
};

const contains = containsText;

describe('de-identification (PS3.15 Annex E basic profile)', () => {
  beforeAll(() => loadDicomCodecs());

  it.each(manifest.files.filter((m) => !BROKEN[m.file] || m.file.startsWith('JPEG2000')).map((m) => [m.file]))(
    '%s: no identifying value left, pixels unchanged',
    async (file) => {
      const original = read(file);
      const { bytes, report } = deidentifyWithReport(original);
      const pixelsOf = ({ data }: ReturnType<typeof parse>) => {
        const el = data.elements['x7fe00010']!;
        return data.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
      };
      const before = parse(original);
      const originalPixels = pixelsOf(before);
      const out = searchable(bytes);
      const left = identifyingValues(original).filter(({ value }) => contains(out, value) && !contains(originalPixels, value));
      expect(left).toEqual([]);
      // the pixel data element is byte for byte the same
      const after = parse(bytes);
      expect(sameValues(pixelsOf(after), originalPixels)).toBe(true);
      const parsed = after.data;
      if (!BROKEN[file]) {
        const info = readDicomInfo(original);
        for (const frame of new Set([0, info.numberOfFrames - 1])) {
          expect(sameValues((await decodeDicom(bytes, { frame })).data, (await decodeDicom(original, { frame })).data)).toBe(true);
        }
      }
      // marked, private tags gone, one new UID per old one
      expect(parsed.string('x00120062')).toBe('YES');
      expect(parsed.string('x00120063')).toBe('MedClass PS3.15 E.1 Basic Profile');
      // the same UID maps to the same new one (when the file's meta and data set agree, they still do)
      const same = before.meta.string('x00020003') === before.data.string('x00080018');
      expect(after.meta.string('x00020003') === parsed.string('x00080018')).toBe(same);
      expect(after.meta.string('x00020003')).toMatch(/^2\.25\.\d{1,39}$/);
      for (const tag of ['x00080018', 'x0020000d', 'x0020000e']) {
        if (before.data.string(tag)) expect(parsed.string(tag)).toMatch(/^2\.25\.\d{1,39}$/);
      }
      const odd = (set: typeof parsed): string[] =>
        Object.entries(set.elements).flatMap(([tag, el]) => [
          ...(parseInt(tag.slice(1, 5), 16) % 2 ? [tag] : []),
          ...(el.items ?? []).flatMap((item) => (item.dataSet ? odd(item.dataSet) : [])),
        ]);
      expect(odd(parsed)).toEqual([]);
      expect(report.uidsReplaced).toBeGreaterThanOrEqual(3);
    },
  );

  it('maps each UID consistently within a call, afresh in each call, in sequences and implicit VR files too', () => {
    const sop = '1.2.826.0.1.3680043.9.7.1.42';
    const study = '1.2.826.0.1.3680043.9.7.2.42';
    const elements: SyntheticElement[] = [
      ...imageElements({ rows: 1, columns: 2, pixelData: Uint8Array.of(1, 2) }).filter((e) => e.tag !== 0x00080018),
      { tag: 0x00080018, vr: 'UI', value: sop },

      { tag: 0x0020000d, vr: 'UI', value: study },
      { tag: 0x00100010, vr: 'PN', value: 'Doe^Jane' },
      { tag: 0x00100020, vr: 'LO', value: 'MRN-0042-XY' },
      { tag: 0x00100030, vr: 'DA', value: '19700101' },
      { tag: 0x00091010, vr: 'LO', value: 'private secret' },
      { tag: 0x00080080, vr: 'LO', value: 'General Hospital' },
    ];
    for (const syntax of [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE]) {
      // Referenced Image Sequence, naming the same instance
      const referencedImage = sequenceValue([[{ tag: 0x00081155, vr: 'UI', value: sop }]], syntax);
      const original = buildDicom([...elements, { tag: 0x00081140, vr: 'SQ', value: referencedImage }], syntax);
      const once = deidentifyWithReport(original);
      const twice = deidentifyWithReport(original);
      for (const value of [sop, study, 'Doe^Jane', 'MRN-0042-XY', '19700101', 'private secret', 'General Hospital']) {
        expect(contains(once.bytes, value), `${value} in ${syntax}`).toBe(false);
      }
      const a = dicomParser.parseDicom(once.bytes);
      const b = dicomParser.parseDicom(twice.bytes);
      const referenced = a.elements['x00081140']!.items![0]!.dataSet!;
      expect(referenced.string('x00081155')).toBe(a.string('x00080018'));
      expect(a.string('x00020003')).toMatch(/^2\.25\.\d+$/);
      expect(a.string('x0020000d')).not.toBe(a.string('x00080018'));
      expect(a.string('x00080018')).not.toBe(b.string('x00080018'));
      expect(grey(once.bytes)).toEqual(grey(original));
      expect(once.report.privateRemoved).toBe(1);
    }
  });

  it('refuses the files whose data set is broken, as decoding does', async () => {
    for (const file of ['MR_truncated.dcm', 'emri_small_jpeg_2k_lossless_too_short.dcm', 'no_meta.dcm']) {
      const e = await refusal(() => deidentifyWithReport(read(file)));
      expect(e.code, file).toBe('corruptImage');
    }
    expect(DEFAULT_DECODE_LIMITS.maxBytes).toBeGreaterThan(0);
  });
});
