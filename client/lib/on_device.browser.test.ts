/**
 * The on-device path in a browser (the `browser` vitest project) with the model shape --auto
 * ships since the CNN ensemble: test/data/models/breast_cnn_ensemble_v3.json (an SVM and four CNNs,
 * probabilities averaged, a threshold) classifies BreastMNIST test images here, on tfjs's cpu
 * backend, as `medclass predict` did on the server's wasm (test/data/models/predictions.json):
 * the same labels, the scores within float32 rounding.
 */
import { describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { parseModel } from '../../shared/classify/model.ts';
import { classifyOnDevice } from './on_device.ts';

const MODELS = 'test/data/models';

describe('classifying on the device with an ensemble of CNNs', () => {
  it('gives the labels and scores medclass predict gave', { timeout: 120_000 }, async () => {
    const model = parseModel(await commands.readFile(`${MODELS}/breast_cnn_ensemble_v3.json`));
    expect(model.predictor.classifier.type).toBe('ensemble');
    const recorded = JSON.parse(await commands.readFile(`${MODELS}/predictions.json`)) as { models: Record<string, { file: string; label: string; scores: Record<string, number> }[]> };
    const expected = recorded.models['breast_cnn_ensemble_v3']!;
    expect(expected.length).toBe(10);
    expect(new Set(expected.map((p) => p.label)).size).toBe(2);
    for (const p of expected) {
      const base64 = await commands.readFile(p.file, 'base64');
      const got = await classifyOnDevice(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)), model);
      expect(got.label, p.file).toBe(p.label);
      for (const [label, score] of Object.entries(p.scores)) expect(Math.abs(got.scores[label]! - score), `${p.file} ${label}`).toBeLessThan(1e-5);
    }
  });
});
