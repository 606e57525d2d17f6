import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { EXACT_TOLERANCE } from '../shared/features/tolerance.ts';
import { GOLDEN, loadGolden } from './golden.ts';
import { compareToGolden } from './golden_compare.ts';

const run = promisify(execFile);
// From the sources, so the test sees this checkout's code whatever dist/ holds.
const medclass = (...args: string[]) =>
  run(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    env: { ...process.env, MEDCLASS_FROM_SOURCE: '1' },
    maxBuffer: 1 << 28,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

const tmp = mkdtempSync(join(tmpdir(), 'medclass-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('medclass features', () => {
  it('writes the golden format for a folder, on worker threads, matching the golden vectors', async () => {
    const golden = loadGolden('s0_l32');
    const { code, stdout } = await medclass('features', join(GOLDEN, 'images'), '--size', '0', '--jobs', '2');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.spec).toMatchObject({ size: 0, levels: 32, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 });
    const byFile = new Map(out.images.map((r: { file: string }) => [r.file, r]));
    for (const record of golden.images) {
      const got = byFile.get(record.file) as Record<string, unknown>;
      expect(got, record.file).toBeDefined();
      expect(got['width']).toBe(record.width);
      expect(compareToGolden({ ...got, hog: Float32Array.from(got['hog'] as number[]) }, record, EXACT_TOLERANCE)).toEqual([]);
    }
    // the refusals of min_size/ are records with errors, and the run goes on
    const refusal = byFile.get('min_size/refuse_12x12.png') as Record<string, unknown>;
    expect(refusal['errorCode']).toBe('imageTooSmall');
    expect(refusal['hog']).toBeUndefined();
  });

  it('keeps going past unreadable files, honours --features and --out, and fails only when nothing was read', async () => {
    const dir = join(tmp, 'mixed');
    cpSync(join(GOLDEN, 'images', 'disc.png'), join(dir, 'disc.png'));
    writeFileSync(join(dir, 'broken.png'), 'not a png');
    const outFile = join(tmp, 'out.json');
    const ok = await medclass('features', dir, join(tmp, 'missing.png'), '--features', 'glcmContrast,hogMean', '--out', outFile);
    expect(ok.code).toBe(0);
    const out = JSON.parse(readFileSync(outFile, 'utf8'));
    expect(out.images.map((r: { file: string }) => r.file)).toEqual(['broken.png', 'disc.png', join(tmp, 'missing.png')]);
    expect(Object.keys(out.images[1])).toEqual(['file', 'width', 'height', 'resizedWidth', 'resizedHeight', 'hogMean', 'glcmContrast']);
    expect(out.images[0].errorCode).toBe('unsupportedFormat');
    expect(out.images[2].error).toMatch(/no such file/);

    const none = await medclass('features', join(dir, 'broken.png'));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no image could be read/);
  });

  it('refuses a bad spec with a clear message', async () => {
    const r = await medclass('features', join(GOLDEN, 'images', 'disc.png'), '--levels', '1', '--features', 'hog,sift');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid feature spec: .*features.*levels/);
  });
});
