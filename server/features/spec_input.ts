import { FEATURE_FAMILIES } from '../../shared/features/spec.ts';

/** The feature-spec options of the commands, as strings from the command line. */
export interface SpecOptions {
  size?: string;
  levels?: string;
  orientations?: string;
  pixelsPerCell?: string;
  cellsPerBlock?: string;
  pixelsPerCell2?: string;
  lbp?: string;
  glcmDistances?: string;
  histogramBins?: string;
  gaborFrequencies?: string;
  gaborOrientations?: string;
  features?: string;
}

/** A number where the text is one, else the text itself, so that "8x" is refused, not read as 8. */
const num = (v: string): number | string => (/^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
const list = (v: string): string[] => v.split(',').map((f) => f.trim()).filter(Boolean);

/** "uniform:8:1" as an LBP setting; the spec's schema names whatever is wrong with it. */
function lbpSetting(text: string): Record<string, unknown> {
  const [method, points, radius, ...rest] = text.split(':').map((s) => s.trim());
  if (rest.length) return { method, points, radius, extra: rest.join(':') };
  return { method, points: points === undefined ? undefined : num(points), radius: radius === undefined ? undefined : num(radius) };
}

/** The options as a spec input; family names in --features stand for their features. */
export function specInput(o: SpecOptions): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of ['size', 'levels', 'orientations', 'pixelsPerCell', 'cellsPerBlock', 'pixelsPerCell2', 'histogramBins', 'gaborOrientations'] as const) {
    const v = o[key];
    if (v !== undefined) input[key] = num(v);
  }
  if (o.lbp !== undefined) input['lbp'] = list(o.lbp).map(lbpSetting);
  if (o.glcmDistances !== undefined) input['glcmDistances'] = list(o.glcmDistances).map(num);
  if (o.gaborFrequencies !== undefined) input['gaborFrequencies'] = list(o.gaborFrequencies).map(num);
  if (o.features !== undefined) {
    const families = FEATURE_FAMILIES as Record<string, readonly string[]>;
    input['features'] = list(o.features).flatMap((f) => (Object.hasOwn(families, f) && !families[f]!.includes(f) ? families[f]! : [f]));
  }
  return input;
}
