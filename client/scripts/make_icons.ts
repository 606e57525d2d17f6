/**
 * Renders the app's PNG icons from client/public/icon.svg with the Chromium the tests use:
 * 192 and 512 px ("any"), and a 512 px "maskable" one with the mark inside the safe zone.
 *   npx tsx client/scripts/make_icons.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../../test/browser.ts';

const PUBLIC = join(import.meta.dirname, '..', 'public');
const svg = readFileSync(join(PUBLIC, 'icon.svg'), 'utf8');
const src = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;

const ICONS = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'icon-maskable-512.png', size: 512, maskable: true },
  { file: 'apple-touch-icon.png', size: 180, maskable: true },
];

const browser = await launchChromium();
try {
  for (const icon of ICONS) {
    const page = await browser.newPage({ viewport: { width: icon.size, height: icon.size } });
    // maskable: full-bleed brand colour, the mark scaled into the central 80 % safe zone
    const inner = icon.maskable ? Math.round(icon.size * 0.8) : icon.size;
    await page.setContent(
      `<html><body style="margin:0;width:${icon.size}px;height:${icon.size}px;display:grid;place-items:center;background:${icon.maskable ? '#0f4c5c' : 'transparent'}">` +
        `<img src="${src}" width="${inner}" height="${inner}"></body></html>`,
    );
    await page.waitForFunction(() => document.images[0]?.complete);
    await page.screenshot({ path: join(PUBLIC, icon.file), omitBackground: !icon.maskable });
    await page.close();
    console.log(`wrote ${icon.file}`);
  }
} finally {
  await browser.close();
}
