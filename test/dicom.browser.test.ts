/**
 * The DICOM expectations of test/dicom.test.ts in Chromium (the `browser` vitest project):
 * every manifest file decodes with its header facts or is refused with the same specific
 * message, the by-hand grey values agree, lossless twins agree, and de-identification keeps
 * the pixels. Files are read through vitest's browser commands (relative to the repo root).
 * No codec is configured here, so the WebAssembly codecs run as their pure-JavaScript builds;
 * test/dicom_wasm.browser.test.ts covers the real WebAssembly builds served by Vite.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { decodeDicom, deidentifyWithReport, loadDicomCodecs, readDicomInfo } from '../shared/image/dicom/index.ts';
import { decodeImage } from '../shared/image/index.ts';
import {
  base64ToBytes,
  BROKEN,
  containsText,
  expectedInfo,
  greyByHand,
  maxAbsDifference,
  pick,
  refusal,
  sameValues,
  type Manifest,
} from './dicom_helpers.ts';

const DIR = 'test/data/datasets/dicom';
const read = async (file: string) => base64ToBytes(await commands.readFile(`${DIR}/${file}`, 'base64'));
const manifest = JSON.parse(await commands.readFile(`${DIR}/dicom_manifest.json`)) as Manifest;
const decodable = manifest.files.filter((m) => !BROKEN[m.file]);

describe('DICOM in the browser', () => {
  beforeAll(() => loadDicomCodecs(), 60_000);

  it.each(decodable.map((m) => [m.file, m] as const))('%s decodes with the manifest header facts', async (file, m) => {
    const bytes = await read(file);
    const expected = expectedInfo(m);
    expect(pick(readDicomInfo(bytes), expected)).toEqual(expected);
    const image = await decodeDicom(bytes);
    expect([image.width, image.height]).toEqual([m.cols, m.rows]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of image.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(min);
    expect(sameValues(decodeImage(bytes).data, image.data)).toBe(true);
  });

  it.each(Object.entries(BROKEN))('%s is refused with a specific message', async (file, { message }) => {
    const e = await refusal(async () => decodeDicom(await read(file)));
    expect(e.code).toBe('corruptImage');
    expect(e.message).toMatch(message);
  });

  it.each([
    ['CT_small.dcm', 0],
    ['MR_small.dcm', 0],
    ['emri_small.dcm', 3],
  ] as const)('%s frame %d agrees with the grey values computed by hand within 1/255', async (file, frame) => {
    const bytes = await read(file);
    const hand = greyByHand(bytes, frame);
    const image = await decodeDicom(bytes, { frame });
    expect(maxAbsDifference(image.data, hand.data)).toBeLessThanOrEqual(1 / 255);
    expect(sameValues(image.data, Float32Array.from(hand.data))).toBe(true);
  });

  it('decodes the RLE and JPEG-LS copies of MR_small to exactly its pixels', async () => {
    const reference = (await decodeDicom(await read('MR_small.dcm'))).data;
    for (const file of ['MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm']) {
      expect(sameValues((await decodeDicom(await read(file))).data, reference)).toBe(true);
    }
  });

  it('de-identifies without touching the pixels', async () => {
    for (const file of ['CT_small.dcm', 'MR_small_RLE.dcm', 'SC_rgb_jpeg_dcmtk.dcm', 'RG3_J2KI.dcm']) {
      const original = await read(file);
      const { bytes } = deidentifyWithReport(original);
      expect(sameValues((await decodeDicom(bytes)).data, (await decodeDicom(original)).data)).toBe(true);
      // patient names, and the instance UID root of the pydicom test files
      for (const value of ['CompressedSamples^', 'Lestrade^G', '1.3.6.1.4.1.5962.1.1.']) {
        expect(containsText(bytes, value), `${value} in ${file}`).toBe(false);
      }
    }
  });
});
