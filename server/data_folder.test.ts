import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_FILE, DataFolderError, openDataStore, PRIVATE_FILES, secureDataFolder } from './data_folder.ts';
import { IDENTITY_FILE } from './identity_file.ts';
import { createLogger } from './log.ts';
import { PROJECT_ROOT } from './paths.ts';
import { createMedclassServer } from './server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'medclass-modes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe.skipIf(process.platform === 'win32')('data folder modes', () => {
  it('makes an existing loose folder 0700 and its database, -wal, -shm and identity key 0600', async () => {
    const dir = join(tmp, 'loose');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const f of PRIVATE_FILES) {
      writeFileSync(join(dir, f), '');
      chmodSync(join(dir, f), 0o644);
    }
    rmSync(join(dir, DATABASE_FILE));
    rmSync(join(dir, `${DATABASE_FILE}-wal`));
    rmSync(join(dir, `${DATABASE_FILE}-shm`));
    const { store } = openDataStore(dir);
    await store.audit({ at: new Date().toISOString(), user: null, action: 'test', outcome: 'ok', detail: null });
    expect(mode(dir)).toBe('700');
    for (const f of PRIVATE_FILES) expect([f, mode(join(dir, f))]).toEqual([f, '600']);
    await store.close();
    // and again on the next start, whatever happened in between
    chmodSync(dir, 0o777);
    chmodSync(join(dir, DATABASE_FILE), 0o666);
    secureDataFolder(dir);
    expect([mode(dir), mode(join(dir, DATABASE_FILE))]).toEqual(['700', '600']);
  });

  it('refuses, saying why, a data folder that is not a folder', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    expect(() => secureDataFolder(file)).toThrow(DataFolderError);
  });

  it('the server sets the modes at start in a folder made beforehand (the README\'s /home/medclass-data)', async () => {
    const dir = join(tmp, 'server');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const server = await createMedclassServer({ dataDir: dir, adminPassword: 'an admin password', demo: false, logger: createLogger('silent') });
    try {
      expect(mode(dir)).toBe('700');
      for (const f of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, IDENTITY_FILE]) expect([f, mode(join(dir, f))]).toEqual([f, '600']);
    } finally {
      await server.close();
    }
  }, 120_000);

  it('medclass add-user refuses a data folder it cannot use, in one line', async () => {
    const file = join(tmp, 'not-a-folder');
    writeFileSync(file, '');
    const result = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), 'add-user', 'x', '--data', file], {
      env: { ...process.env, MEDCLASS_PASSWORD: 'a password here' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/not-a-folder/);
  }, 120_000);
});
