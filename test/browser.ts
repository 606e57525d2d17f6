import { chromium, type Browser } from 'playwright';
import { CHROMIUM, CHROMIUM_ARGS } from '../vite.config.ts';

/** Debian's Chromium through Playwright, as the end-to-end tests drive it (WebGL by SwiftShader). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
