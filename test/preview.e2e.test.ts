import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/http/app.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { EXACT_TOLERANCE, GPU_TOLERANCE } from '../shared/features/tolerance.ts';
import { launchChromium } from './browser.ts';
import { dataset, GOLDEN, loadGolden } from './golden.ts';
import { compareToGolden } from './golden_compare.ts';
import { buildWebapp } from './webapp_fixture.ts';

const SCREENSHOTS = join(PROJECT_ROOT, 'test', 'output', 'screenshots');

let clientDir: string;
let app: FastifyInstance;
let url: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  clientDir = mkdtempSync(join(tmpdir(), 'medclass-client-'));
  await buildWebapp(clientDir);
  app = await buildApp({ clientDir });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${url}/preview`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  rmSync(clientDir, { recursive: true, force: true });
});

/** Picks a golden image in the page and reads back the feature vector it shows. */
async function dropAndRead(file: string): Promise<Record<string, unknown>> {
  await page.getByTestId('file-input').setInputFiles(join(GOLDEN, 'images', file));
  const name = file.split('/').pop();
  const shown = await page.waitForFunction(
    (expected) => {
      const text = document.querySelector('[data-testid="feature-json"]')?.textContent;
      return text && JSON.parse(text).file === expected ? text : null;
    },
    name,
    { timeout: 60_000 },
  );
  return JSON.parse((await shown.jsonValue())!);
}

describe('feature preview page in Chromium', () => {
  const golden = loadGolden('s64_l32');

  it('computes on the CPU by itself where WebGL is a software renderer (headless Chromium: SwiftShader), and says why', async () => {
    const why = page.getByTestId('backend-why');
    await expect(why.getAttribute('data-backend')).resolves.toBe('cpu');
    await expect(why.textContent()).resolves.toMatch(/CPU \(exact\): picked because WebGL here is a software renderer \(.*SwiftShader.*\), slower than the CPU/);
    await expect(page.getByTestId('backend-choice').inputValue()).resolves.toBe('auto');
    await dropAndRead('camera.png');
    expect(await page.getByTestId('backend').textContent()).toBe('cpu');
  });

  it('computes the features of a dropped golden image on WebGL within the GPU tolerance', async () => {
    // WebGL chosen by the user, though a software renderer
    await page.getByTestId('backend-choice').selectOption('webgl');
    await expect(page.getByTestId('backend-why').textContent()).resolves.toMatch(/GPU \(WebGL\): your choice/);
    // the image already shown is computed again on the new backend
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]')?.textContent === 'webgl', null, { timeout: 60_000 });
    for (const file of ['camera.png', 'astronaut_rgb.png', 'coffee_rgba.png']) {
      const shown = await dropAndRead(file);
      expect(await page.getByTestId('backend').textContent()).toBe('webgl');
      const record = golden.images.find((r) => r.file === file)!;
      expect(compareToGolden({ ...shown, hog: Float32Array.from(shown['hog'] as number[]) }, record, GPU_TOLERANCE)).toEqual([]);
      // the table shows the same numbers as the vector
      expect(Number(await page.locator('[data-feature="glcmContrast"]').getAttribute('data-value'))).toBe(shown['glcmContrast']);
    }
    await expect(page.getByTestId('timing').textContent()).resolves.toMatch(/ms/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [name, width] of [['desktop', 1280], ['phone', 390]] as const) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: join(SCREENSHOTS, `preview-${name}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('shows the new families, says which ran on the CPU, and draws the LBP codes and the GLCM per angle', async () => {
    const families = loadGolden('families_s64');
    for (const file of ['astronaut_rgb.png', 'disc.png']) {
      const shown = await dropAndRead(file);
      expect(await page.getByTestId('backend').textContent()).toBe('webgl');
      const record = families.images.find((r) => r.file === file)!;
      // the page's default LBP settings are the first three of the golden file's four
      const lbpShown = shown['lbp'] as number[];
      expect(lbpShown).toEqual(record.lbp!.slice(0, lbpShown.length));
      const { lbp: _lbp, ...rest } = record;
      expect(compareToGolden(shown, rest, GPU_TOLERANCE)).toEqual([]);
      expect(await page.getByTestId('on-cpu').textContent()).toMatch(/Computed on the CPU .*LBP, GLCM per distance and angle, intensity histogram and moments/);
      for (const id of ['lbp-map', 'glcm-0', 'glcm-1', 'glcm-2', 'glcm-3']) {
        const painted = await page.getByTestId(id).evaluate((c: HTMLCanvasElement) => {
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          return d.some((v, i) => i % 4 !== 3 && v > 0);
        });
        expect(painted, id).toBe(true);
      }
    }
    // colour features for the colour image, and the grey one says why it has none
    await dropAndRead('astronaut_rgb.png');
    await expect(page.locator('[data-feature="colour-mean"]').textContent()).resolves.toMatch(/^R 0\.\d+ {2}G 0\.\d+ {2}B 0\.\d+$/);
    await dropAndRead('disc.png');
    await expect(page.getByTestId('skipped-colour').textContent()).resolves.toContain('colour features need a colour image');
    await page.screenshot({ path: join(SCREENSHOTS, 'preview-families.png'), fullPage: true });
  });

  it('switches to the exact CPU path and meets the exact tolerance', async () => {
    await page.getByTestId('backend-choice').selectOption('cpu');
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]')?.textContent === 'cpu');
    const shown = await dropAndRead('disc.png');
    const record = golden.images.find((r) => r.file === 'disc.png')!;
    expect(compareToGolden({ ...shown, hog: Float32Array.from(shown['hog'] as number[]) }, record, EXACT_TOLERANCE)).toEqual([]);
  });

  it('reads a DICOM file on the device and shows what its header says', async () => {
    await page.getByTestId('file-input').setInputFiles(join(dataset('dicom'), 'CT_small.dcm'));
    const info = page.getByTestId('dicom-info');
    await info.waitFor({ timeout: 30_000 });
    const text = await info.textContent();
    expect(text).toContain('CT');
    expect(text).toContain('128 x 128');
    expect(text).toContain('16 stored of 16, signed');
    expect(text).toContain('MONOCHROME2');
    await page.waitForFunction(() => JSON.parse(document.querySelector('[data-testid="feature-json"]')?.textContent ?? '{}').file === 'CT_small.dcm');
  });

  it('decodes a JPEG 2000 DICOM with the WebAssembly build of OpenJPEG served by the built app, not its JavaScript fallback', async () => {
    await page.getByTestId('file-input').setInputFiles(join(dataset('dicom'), 'JPEG2000.dcm'));
    await page.waitForFunction(() => JSON.parse(document.querySelector('[data-testid="feature-json"]')?.textContent ?? '{}').file === 'JPEG2000.dcm', null, { timeout: 60_000 });
    const codec = page.getByTestId('dicom-codec');
    await expect(codec.getAttribute('data-build')).resolves.toBe('wasm');
    await expect(codec.textContent()).resolves.toBe('JPEG 2000, WebAssembly');
    await expect(page.getByTestId('dicom-info').textContent()).resolves.toContain('256 x 1024');
    // the .wasm came from the built app's assets
    const wasm = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.endsWith('.wasm')));
    expect(wasm.some((p) => /\/assets\/openjpegwasm_decode-[\w-]+\.wasm$/.test(p))).toBe(true);
  });

  it('refuses an image too small for one HOG block with a clear message', async () => {
    await page.getByTestId('param-size').selectOption('0');
    await page.getByTestId('file-input').setInputFiles(join(GOLDEN, 'images', 'min_size', 'refuse_12x12.png'));
    await expect(page.getByTestId('error').textContent({ timeout: 30_000 })).resolves.toContain('image too small for one HOG block');
  });
});
