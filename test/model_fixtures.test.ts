/**
 * Every model file fixture (test/data/models, written by earlier versions) still loads and
 * predicts exactly, bit for bit, what it predicted when it was made: the feature spec grows,
 * it never changes meaning (docs/features.md section 4).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModel } from '../shared/classify/model.ts';
import { FEATURE_NAMES } from '../shared/features/spec.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { medclass } from './classify_data.ts';

const MODELS = join(PROJECT_ROOT, 'test', 'data', 'models');
interface Prediction {
  file: string;
  label: string;
  scores: Record<string, number>;
}
const recorded = JSON.parse(readFileSync(join(MODELS, 'predictions.json'), 'utf8')) as { models: Record<string, Prediction[]> };

describe('model file fixtures', () => {
  it.each(Object.entries(recorded.models))(
    '%s loads and predicts what it did when it was made',
    async (name, expected) => {
      const text = readFileSync(join(MODELS, `${name}.json`), 'utf8');
      const model = parseModel(text);
      // an old spec reads as the same extraction: only the seven features, whatever the new keys default to
      const stored = (JSON.parse(text) as { spec: { features: string[] } }).spec;
      expect(model.spec.features).toEqual(stored.features);
      // a CNN (format version 2) reads the image itself: its spec is the pixels; an ensemble (3) its members' features and the pixels
      const c = model.predictor.classifier;
      if (c.type === 'cnn') expect(model.spec.features).toEqual(['pixels']);
      else if (c.type === 'ensemble') expect(model.spec.features).toEqual([...new Set(c.members.flatMap((m) => m.features))].sort((a, b) => FEATURE_NAMES.indexOf(a) - FEATURE_NAMES.indexOf(b)));
      else expect(model.spec.features.every((f) => FEATURE_NAMES.slice(0, 7).includes(f))).toBe(true);
      const run = await medclass('predict', '--json', join(MODELS, `${name}.json`), ...expected.map((p) => join(PROJECT_ROOT, p.file)));
      expect(run.stderr).not.toMatch(/medclass: .*:/);
      expect(run.code).toBe(0);
      const got = run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Prediction)
        .map((p) => ({ ...p, file: p.file.slice(PROJECT_ROOT.length + 1) }));
      expect(got).toEqual(expected);
    },
    120_000,
  );
});
