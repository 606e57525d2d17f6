/**
 * Image sizes in a training set, checked on the page before anything is sent: a spec that
 * keeps each image's size (size 0) needs them all alike, or the server refuses the training.
 * When they differ the page says so and offers one size to resize all of them to.
 */
export interface Dimensions {
  width: number;
  height: number;
}

export interface MixedSizes {
  /** Distinct sizes, most common first. */
  sizes: (Dimensions & { count: number })[];
  /** The side offered: of `choices`, the one nearest the most common image's longer side. */
  suggested: number;
  /** The warning, in words, e.g. `These images have 3 different sizes (28×28, 64×64, …).` */
  message: string;
}

const SHOWN = 3;
const label = (d: Dimensions) => `${d.width}×${d.height}`;

/** Null when every image has the same size (or none was decoded); else what to tell the admin. */
export function mixedSizes(images: Iterable<Dimensions>, choices: readonly number[]): MixedSizes | null {
  const counts = new Map<string, Dimensions & { count: number }>();
  for (const d of images) {
    const key = label(d);
    const known = counts.get(key);
    if (known) known.count++;
    else counts.set(key, { width: d.width, height: d.height, count: 1 });
  }
  if (counts.size < 2) return null;
  const sizes = [...counts.values()].sort((a, b) => b.count - a.count || a.width * a.height - b.width * b.height);
  const common = Math.max(sizes[0]!.width, sizes[0]!.height);
  const offered = choices.filter((c) => c > 0);
  const suggested = offered.reduce((best, c) => (Math.abs(c - common) < Math.abs(best - common) ? c : best), offered[0] ?? common);
  const listed = sizes.slice(0, SHOWN).map(label).join(', ') + (sizes.length > SHOWN ? ', …' : '');
  return { sizes, suggested, message: `These images have ${sizes.length} different sizes (${listed}).` };
}
