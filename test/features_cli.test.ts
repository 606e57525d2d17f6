import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { EXACT_TOLERANCE } from '../shared/features/tolerance.ts';
import { GOLDEN, dataset, loadGolden, splitImages } from './golden.ts';
import { compareToGolden } from './golden_compare.ts';

const run = promisify(execFile);
// From the sources, so the test sees this checkout's code whatever dist/ holds.
const medclass = (...args: string[]) =>
  run(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    env: process.env,
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

  it('writes the same values as JSON Lines, CSV and npy; float32 features as the shortest text that reads back exactly', async () => {
    const dir = join(tmp, 'formats');
    for (const f of ['disc.png', 'camera.png']) cpSync(join(GOLDEN, 'images', f), join(dir, f));
    writeFileSync(join(dir, 'broken.png'), 'not a png');
    const features = ['--features', 'hog,hogMean,glcmContrast,lbp', '--size', '32', '--jobs', '1'];
    const json = JSON.parse((await medclass('features', dir, ...features)).stdout);
    const [broken, camera, disc] = json.images;
    expect(broken.errorCode).toBe('unsupportedFormat');
    // the exact float32 values, with fewer digits than a double's
    const hog = Float32Array.from(camera.hog as number[]);
    expect(Array.from(hog)).toEqual(camera.hog.map((x: number) => Math.fround(x)));
    const text = (await medclass('features', dir, ...features)).stdout;
    const hogText = /"hog":\[([^\]]*)\]/.exec(text)![1]!;
    expect(hogText.split(',').every((v) => v.replace(/^0\.0*/, '').length <= 9)).toBe(true);

    const jsonl = (await medclass('features', dir, ...features, '--format', 'jsonl')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(jsonl).toEqual(json.images);

    const csv = (await medclass('features', dir, ...features, '--format', 'csv')).stdout.trim().split('\n');
    const header = csv[0]!.split(',');
    expect(header.slice(0, 6)).toEqual(['file', 'width', 'height', 'resizedWidth', 'resizedHeight', 'hog_0']);
    expect(header.slice(-1)).toEqual(['error']);
    expect(csv.length).toBe(4);
    expect(csv[1]).toMatch(/^broken\.png,.*,"?not a supported image/);
    const row = csv[2]!.split(',');
    expect(row.length).toBe(header.length);
    const vector = [...camera.hog, camera.hogMean, camera.glcmContrast, ...camera.lbp];
    expect(row.slice(5, -1).map(Number)).toEqual(vector);

    const npyFile = join(tmp, 'f.npy');
    const npy = await medclass('features', dir, ...features, '--format', 'npy', '--out', npyFile);
    expect(npy.stderr).toMatch(/broken\.png: not a supported image.*row of NaN/);
    const bytes = readFileSync(npyFile);
    const headerLength = bytes.readUInt16LE(8);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    expect((10 + headerLength) % 64).toBe(0);
    expect(bytes.toString('latin1', 10, 10 + headerLength)).toMatch(new RegExp(`'shape': \\(3, ${vector.length}\\)`));
    const rows = new Float64Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
    expect(rows.length).toBe(3 * vector.length);
    expect(Number.isNaN(rows[0])).toBe(true);
    // npy holds the float32 features as their exact doubles, the text their shortest decimals
    const cameraRow = Array.from(rows.subarray(vector.length, 2 * vector.length));
    expect(cameraRow.map((x) => Math.fround(x))).toEqual(vector.map((x) => Math.fround(x)));
    expect(cameraRow.slice(camera.hog.length + 2)).toEqual(camera.lbp);
    expect(cameraRow[camera.hog.length]).toBe(camera.hogMean);
    expect(Math.fround(rows[2 * vector.length]!)).toBe(Math.fround(disc.hog[0]));

    const refused = await medclass('features', dir, '--format', 'npy');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--format npy writes a binary file: name it with --out/);
  });

  it('gives a compressed DICOM read beside many PNGs, its codec loading while its worker goes on with the next chunks, the record it gets alone', async () => {
    // Each thread reads its files into one buffer: a file whose decoder waits (a codec to
    // load) must not see the next chunk's files in it.
    const dir = join(tmp, 'one-buffer');
    cpSync(join(dataset('dicom'), 'MR_small_jpeg_ls_lossless.dcm'), join(dir, 'a.dcm'));
    splitImages('breastmnist', 'train').slice(0, 40).forEach((f, i) => cpSync(f, join(dir, `b${String(i).padStart(2, '0')}.png`)));
    const features = ['--features', 'hogMean,glcmContrast,intensityMoments'];
    const alone = JSON.parse((await medclass('features', join(dir, 'a.dcm'), ...features)).stdout).images[0];
    expect(alone.errorCode).toBeUndefined();
    for (const jobs of ['1', '2']) {
      const together = JSON.parse((await medclass('features', dir, ...features, '--jobs', jobs)).stdout).images;
      expect(together).toHaveLength(41);
      expect(together[0], `--jobs ${jobs}`).toEqual({ ...alone, file: 'a.dcm' });
    }
  });

  it('runs its workers when Node is started with V8 options (a larger heap), which a worker refuses when they are handed to it', async () => {
    const dir = join(tmp, 'node-options');
    splitImages('breastmnist', 'train').slice(0, 20).forEach((f, i) => cpSync(f, join(dir, `b${String(i).padStart(2, '0')}.png`)));
    const r = await run(process.execPath, ['--max-old-space-size=3072', '--stack-size=2000', join(PROJECT_ROOT, 'server', 'medclass.js'), 'features', dir, '--features', 'hogMean', '--jobs', '2']);
    expect(JSON.parse(r.stdout).images.map((i: { hogMean?: number }) => typeof i.hogMean)).toEqual(Array(20).fill('number'));
  });
});
