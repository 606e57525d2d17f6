/**
 * The clinician's result cards in the web app, read by the end-to-end tests that compare
 * classifying through the channel with classifying offline on the device.
 */
import { basename } from 'node:path';
import type { BrowserContext, Page } from 'playwright';

export interface CardResult {
  label: string;
  scores: Record<string, number>;
}

export const waitForConnection = (page: Page, status: string) => page.locator(`[data-testid="connection"][data-status="${status}"]`).waitFor({ timeout: 60_000 });

/** Labels and scores of the done cards of one service and place (`server` or `device`), by file, once there are at least `count`. */
export async function doneResults(page: Page, service: string, where: 'server' | 'device', count: number): Promise<Map<string, CardResult>> {
  const selector = `[data-testid="result"][data-state="done"][data-service="${service}"][data-where="${where}"]`;
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length >= n, [selector, count] as const, { timeout: 120_000 }).catch(async (e: unknown) => {
    // what the page shows instead, to tell a slow machine from a wrong path
    const cards = await page.locator('[data-testid="result"]').evaluateAll((els) => els.map((c) => [c.getAttribute('data-service'), c.getAttribute('data-where'), c.getAttribute('data-state'), c.textContent?.slice(0, 160)].join(' | ')));
    const banner = await page.getByTestId('connection').getAttribute('data-status').catch(() => null);
    throw new Error(`${String(e)}\nconnection ${banner}; cards:\n${cards.join('\n')}`);
  });
  const out = new Map<string, CardResult>();
  for (const card of await page.locator(selector).all()) {
    const label = (await card.getByTestId('label').textContent())!;
    const scores = Object.fromEntries(await card.locator('[data-value]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-class')!, Number(e.getAttribute('data-value'))] as const)));
    out.set((await card.getAttribute('data-file'))!, { label, scores });
  }
  return out;
}

/** The service picked, its device model downloaded: what offline classification needs. */
export async function pickDeviceService(page: Page, service: string): Promise<void> {
  await page.getByTestId('service-select').selectOption(service);
  await page.getByTestId('service-info').waitFor();
  await page.locator('[data-testid="device-model"][data-status="ready"]').waitFor({ timeout: 60_000 });
}

/**
 * The images classified through the channel (reduced), then with the network cut (the
 * installed app classifies them on the device), then back online. The service must be picked
 * and its model on the device (pickDeviceService).
 */
export async function channelThenOffline(context: BrowserContext, page: Page, service: string, images: string[], onDevice?: (page: Page) => Promise<void>): Promise<{ server: Map<string, CardResult>; device: Map<string, CardResult> }> {
  await page.getByTestId('mode-reduced').check();
  await page.getByTestId('files-input').setInputFiles(images);
  const server = await doneResults(page, service, 'server', images.length);
  await context.setOffline(true);
  try {
    await waitForConnection(page, 'offline');
    await page.getByTestId('files-input').setInputFiles(images);
    const device = await doneResults(page, service, 'device', images.length);
    await onDevice?.(page);
    return { server, device };
  } finally {
    // a failure here must not leave the next steps offline
    await context.setOffline(false);
    await waitForConnection(page, 'ready');
  }
}

/** The largest difference between two sets of scores for the same files and classes; throws where files or classes differ. */
export function largestScoreDifference(a: Map<string, CardResult>, b: Map<string, CardResult>, files: string[]): number {
  let worst = 0;
  for (const file of files.map((f) => basename(f))) {
    const x = a.get(file);
    const y = b.get(file);
    if (!x || !y) throw new Error(`${file}: no result on one side`);
    if (Object.keys(x.scores).sort().join() !== Object.keys(y.scores).sort().join()) throw new Error(`${file}: the classes differ`);
    for (const [k, v] of Object.entries(x.scores)) worst = Math.max(worst, Math.abs(y.scores[k]! - v));
  }
  return worst;
}
