import { commands } from 'vitest/browser';
import type { GreyImage } from '../shared/image/grey.ts';
import { decodeImage } from '../shared/image/index.ts';

/** The golden folder, relative to the repo root (the browser project's root). */
export const GOLDEN = 'test/data/golden';

const decoded = new Map<string, GreyImage>();

/** A golden image read through vitest's browser commands and decoded by the project's own decoder (never a canvas), once. */
export async function goldenImage(file: string): Promise<GreyImage> {
  let image = decoded.get(file);
  if (!image) {
    const base64 = await commands.readFile(`${GOLDEN}/images/${file}`, 'base64');
    image = decodeImage(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
    decoded.set(file, image);
  }
  return image;
}
