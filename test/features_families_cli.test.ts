/**
 * The new feature families through the command line: `medclass features` reproduces their
 * golden vectors and refusals, `train` and `predict` use them (colour on RetinaMNIST), and a
 * bad setting is refused in words.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXACT_TOLERANCE } from '../shared/features/tolerance.ts';
import { medclass } from './classify_data.ts';
import { dataset, GOLDEN, loadGolden } from './golden.ts';
import { compareToGolden } from './golden_compare.ts';

const tmp = mkdtempSync(join(tmpdir(), 'medclass-families-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The spec of a golden file as command-line options. */
function optionsOf(spec: Record<string, unknown>): string[] {
  const lbp = (spec['lbp'] as { method: string; points: number; radius: number }[]).map((c) => `${c.method}:${c.points}:${c.radius}`).join(',');
  return [
    '--size', String(spec['size']), '--levels', String(spec['levels']), '--orientations', String(spec['orientations']),
    '--pixels-per-cell', String(spec['pixelsPerCell']), '--cells-per-block', String(spec['cellsPerBlock']),
    '--pixels-per-cell2', String(spec['pixelsPerCell2']), '--lbp', lbp, '--glcm-distances', (spec['glcmDistances'] as number[]).join(','),
    '--histogram-bins', String(spec['histogramBins']), '--features', (spec['features'] as string[]).join(','),
  ];
}

describe('medclass features with the new families', () => {
  it.each(['families_s48_l8_b10', 'families_colour'])(
    'reproduces %s, refusals included, on worker threads',
    async (name) => {
      const golden = loadGolden(name);
      const files = golden.images.map((r) => join(GOLDEN, 'images', r.file));
      const r = await medclass('features', ...files, ...optionsOf(golden.spec), '--jobs', '2');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { spec: Record<string, unknown>; images: Record<string, unknown>[] };
      expect(out.spec).toMatchObject({ lbp: golden.spec['lbp'], glcmDistances: golden.spec['glcmDistances'] });
      golden.images.forEach((record, i) => {
        const got = out.images[i]!;
        if (record.error) {
          expect(got, record.file).toMatchObject({ error: record.error, errorCode: record.errorCode });
          return;
        }
        expect(compareToGolden(got, record, EXACT_TOLERANCE)).toEqual([]);
      });
    },
    120_000,
  );

  it('takes family names in --features and refuses bad LBP and distance settings in words', async () => {
    const image = join(GOLDEN, 'images', 'disc.png');
    const ok = await medclass('features', image, '--features', 'intensity,hogStats');
    expect(ok.code).toBe(0);
    expect(Object.keys(JSON.parse(ok.stdout).images[0])).toEqual(['file', 'width', 'height', 'resizedWidth', 'resizedHeight', 'hogMean', 'hogVariance', 'intensityHistogram', 'intensityMoments']);
    const bad = await medclass('features', image, '--features', 'lbp', '--lbp', 'uniform:8,fancy:8:1,default:16:2', '--glcm-distances', '1,1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid feature spec: lbp\.0\.radius: .*lbp\.1\.method: .*lbp\.2\.points: method 'default' has 2\^P bins: at most 8 points.*glcmDistances: GLCM distances must not repeat/);
  });
});

describe('medclass train and predict with colour features', () => {
  it(
    'trains on RetinaMNIST colour images, predicts a colour image and refuses a grey one',
    async () => {
      const root = join(tmp, 'retina');
      const source = join(dataset('retinamnist'), 'train');
      for (const label of ['0', '2']) {
        mkdirSync(join(root, label), { recursive: true });
        for (const f of readdirSync(join(source, label)).sort().slice(0, 10)) cpSync(join(source, label, f), join(root, label, f));
      }
      const model = join(tmp, 'retina.json');
      const train = await medclass('train', root, '--size', '0', '--pixels-per-cell', '7', '--features', 'colour,lbp,intensityMoments', '--lbp', 'uniform:8:1', '--histogram-bins', '16', '--out', model);
      expect(train.stderr).not.toMatch(/error/i);
      expect(train.code).toBe(0);
      expect(train.stdout).toMatch(/features lbp, intensityMoments, colourHistogram, colourMoments; .*LBP uniform:8:1, 16 histogram bins: 78 values per image/);
      const saved = JSON.parse(readFileSync(model, 'utf8'));
      expect(saved.spec).toMatchObject({ features: ['lbp', 'intensityMoments', 'colourHistogram', 'colourMoments'], lbp: [{ method: 'uniform', points: 8, radius: 1 }], histogramBins: 16 });

      const colour = join(dataset('retinamnist'), 'test', '0', readdirSync(join(dataset('retinamnist'), 'test', '0')).sort()[0]!);
      const grey = join(dataset('breastmnist'), 'test', '0', readdirSync(join(dataset('breastmnist'), 'test', '0')).sort()[0]!);
      const predicted = await medclass('predict', '--json', model, colour, grey);
      expect(predicted.code).toBe(1);
      expect(JSON.parse(predicted.stdout.trim()).label).toMatch(/^[02]$/);
      expect(predicted.stderr).toContain('colour features need a colour image (RGB or RGBA); this one is grey');
    },
    180_000,
  );
});
