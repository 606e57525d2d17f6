import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodeJpeg } from 'jpeg-js';
import { describe, expect, it } from 'vitest';
// Only the lazy registry: this file never imports shared/image/index.ts.
import { decodeImageAsync } from '../shared/image/lazy.ts';
import { findDecoder } from '../shared/image/decoder.ts';
import { dicomDecoder } from '../shared/image/dicom/dicom.ts';
import { jpegDecoder } from '../shared/image/jpeg.ts';
import { pngDecoder } from '../shared/image/png.ts';
import { DEFAULT_DECODE_LIMITS } from '../shared/image/limits.ts';
import { dataset, splitImages } from './golden.ts';

describe('the lazy decoders (the features command\'s workers)', () => {
  const jpeg = (() => {
    const data = Buffer.alloc(16 * 12 * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
    return new Uint8Array(encodeJpeg({ width: 16, height: 12, data }, 90).data);
  })();
  const dicom = new Uint8Array(readFileSync(join(dataset('dicom'), 'CT_small.dcm')));
  const png = new Uint8Array(readFileSync(splitImages('retinamnist', 'test', 1)[0]!));

  it('decode PNG, JPEG and DICOM as the decoders themselves do, loading JPEG and DICOM on their first file', async () => {
    expect(findDecoder(jpeg)!.load).toBeTypeOf('function');
    expect(findDecoder(dicom)!.load).toBeTypeOf('function');
    expect(findDecoder(png)).toBe(pngDecoder);
    for (const [bytes, decoder] of [[png, pngDecoder], [jpeg, jpegDecoder], [dicom, dicomDecoder]] as const) {
      const lazy = await decodeImageAsync(bytes);
      const direct = decoder.decode(bytes, DEFAULT_DECODE_LIMITS);
      expect([lazy.width, lazy.height]).toEqual([direct.width, direct.height]);
      expect(Array.from(lazy.data)).toEqual(Array.from(direct.data));
    }
    expect(findDecoder(jpeg)!.load).toBeUndefined();
    expect(findDecoder(dicom)!.load).toBeUndefined();
  });

  it('refuse a broken file with the real decoder\'s error', async () => {
    const truncated = dicom.slice(0, 600);
    await expect(decodeImageAsync(truncated)).rejects.toMatchObject({ code: 'corruptImage' });
    await expect(decodeImageAsync(jpeg.slice(0, 40))).rejects.toMatchObject({ code: 'corruptImage' });
  });
});
