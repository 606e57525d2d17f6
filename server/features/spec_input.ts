/** The feature-spec options of the commands, as strings from the command line. */
export interface SpecOptions {
  size?: string;
  levels?: string;
  orientations?: string;
  pixelsPerCell?: string;
  cellsPerBlock?: string;
  features?: string;
}

/** The options as a spec input; numbers stay strict so that "8x" is refused, not read as 8. */
export function specInput(o: SpecOptions): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const num = (v: string) => (/^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
  for (const key of ['size', 'levels', 'orientations', 'pixelsPerCell', 'cellsPerBlock'] as const) {
    const v = o[key];
    if (v !== undefined) input[key] = num(v);
  }
  if (o.features !== undefined) input['features'] = o.features.split(',').map((f) => f.trim()).filter(Boolean);
  return input;
}
