/**
 * The key that signs device tokens lives in the database, so that every instance sharing it
 * accepts a token another signed; a data folder from a release that kept it in a file keeps
 * that key, and its users their devices.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../server/log.ts';
import { createMedclassServer } from '../server/server.ts';

const work = mkdtempSync(join(tmpdir(), 'medclass-device-key-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function deviceKeyOf(dataDir: string): Promise<number[]> {
  const server = await createMedclassServer({ dataDir, adminPassword: 'an admin password for tests', demo: false, logger: createLogger('warn'), threads: 1 });
  try {
    // a call with another value answers the stored one
    return [...(await server.store.serverSecret('login-device', new Uint8Array(32)))];
  } finally {
    await server.close();
  }
}

describe('the device-token key', () => {
  it('is made once, kept in the database across restarts, and no longer written to the data folder', async () => {
    const dataDir = join(work, 'fresh');
    const first = await deviceKeyOf(dataDir);
    expect(first.some((b) => b !== 0)).toBe(true);
    expect(await deviceKeyOf(dataDir)).toEqual(first);
    expect(existsSync(join(dataDir, 'login-device.key'))).toBe(false);
  }, 120_000);

  it("takes an earlier release's login-device.key as its value", async () => {
    const legacy = join(work, 'legacy');
    mkdirSync(legacy);
    writeFileSync(join(legacy, 'login-device.key'), new Uint8Array(32).fill(7), { mode: 0o600 });
    expect(await deviceKeyOf(legacy)).toEqual(Array(32).fill(7));
  }, 120_000);
});
