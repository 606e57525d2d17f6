/**
 * The real WebAssembly builds of the DICOM codecs in Chromium, served by Vite and located
 * through `configureDicomCodecs` (as the web app does in client/lib/decoding.ts), against the
 * pure-JavaScript builds' results: the same pixels. The codec loader's own report
 * (`codecBuild`) proves the WebAssembly builds decoded, not the fallback; the built app is
 * checked the same way in test/preview.e2e.test.ts (and offline in test/pwa.e2e.test.ts).
 */
import charlsWasm from '@cornerstonejs/codec-charls/decodewasm?url';
import turboWasm from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm?url';
import openjpegWasm from '@cornerstonejs/codec-openjpeg/decodewasm?url';
import { describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { codecBuild, configureDicomCodecs, decodeDicom, loadDicomCodecs } from '../shared/image/dicom/index.ts';
import { base64ToBytes, greyByHand, sameValues } from './dicom_helpers.ts';

const read = async (file: string) => base64ToBytes(await commands.readFile(`test/data/datasets/dicom/${file}`, 'base64'));

describe('DICOM codecs as WebAssembly in the browser', () => {
  it('decode JPEG 2000, JPEG-LS and 8-bit JPEG', async () => {
    configureDicomCodecs({ wasmUrl: { jpeg2000: openjpegWasm, jpegLs: charlsWasm, jpeg8: turboWasm } });
    await loadDicomCodecs();
    expect([codecBuild('jpeg2000'), codecBuild('jpegLs'), codecBuild('jpeg8')]).toEqual(['wasm', 'wasm', 'wasm']);
    const mr = greyByHand(await read('MR_small.dcm'));
    expect(sameValues((await decodeDicom(await read('MR_small_jpeg_ls_lossless.dcm'))).data, Float32Array.from(mr.data))).toBe(true);
    const start = performance.now();
    const cr = await decodeDicom(await read('RG3_J2KI.dcm'));
    console.log(`[dicom] RG3_J2KI (1760x1760 JPEG 2000) with WebAssembly in Chromium: ${(performance.now() - start).toFixed(0)} ms`);
    expect([cr.width, cr.height]).toEqual([1760, 1760]);
    const rgb = await decodeDicom(await read('SC_rgb_jpeg_dcmtk.dcm'));
    expect(rgb.width).toBe(100);
    // still the WebAssembly builds after decoding (a failed one would have been dropped)
    expect([codecBuild('jpeg2000'), codecBuild('jpegLs'), codecBuild('jpeg8')]).toEqual(['wasm', 'wasm', 'wasm']);
  });
});
