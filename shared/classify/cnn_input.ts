import type { FeatureSpec } from '../features/spec.ts';
import type { CnnFitSettings } from './cnn/train_model.ts';
import { ClassifyError } from './errors.ts';

/**
 * The network's input from the spec: a square image, grey (`pixels`) or colour (`colourPixels`),
 * and nothing else. One rule for every place the CNN trains: the server's fit and the admin's
 * browser.
 */
export function cnnInputShape(spec: FeatureSpec, imageSize: { width: number; height: number } | null, settings: { seed: number; classWeight: 'balanced' | null }): CnnFitSettings {
  const size = spec.size || imageSize?.width || 0;
  if (spec.features.length !== 1 || !(spec.features[0] === 'pixels' || spec.features[0] === 'colourPixels')) {
    throw new ClassifyError('invalidOptions', `the CNN takes the image itself: features 'pixels' (grey) or 'colourPixels' (colour), not ${spec.features.join(', ')}`);
  }
  if (spec.size === 0 && imageSize && imageSize.width !== imageSize.height) {
    throw new ClassifyError('invalidOptions', `the CNN takes square images; these are ${imageSize.width}x${imageSize.height}: give a size to resize them to`);
  }
  if (size < 16 || size > 256) throw new ClassifyError('invalidOptions', `the CNN takes images of 16 to 256 pixels a side, not ${size}`);
  return { inputSize: size, channels: spec.features[0] === 'colourPixels' ? 3 : 1, seed: settings.seed, classWeight: settings.classWeight };
}
