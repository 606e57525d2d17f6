import { ClassifyError } from './errors.ts';

/**
 * The pure parts of reading a labelled dataset: label order, counts, class checks and
 * duplicate detection. The server walks folders and hashes images; these decide and report.
 */
export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** Label order: numerically when every label is an integer ("2" before "10"), else by code unit. */
export function sortLabels(labels: Iterable<string>): string[] {
  const list = [...new Set(labels)];
  const numeric = list.every((l) => /^-?\d+$/.test(l));
  return list.sort((a, b) => (numeric ? Number(a) - Number(b) || (a < b ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0));
}

export type Counts = Record<string, number>;

export function countLabels(labels: readonly string[], order: readonly string[]): Counts {
  const counts: Counts = Object.fromEntries(order.map((l) => [l, 0]));
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

/** Refuses what cannot be trained: no class, one class, or a class without images. */
export function checkTrainingClasses(counts: Counts, where: string): void {
  const labels = Object.keys(counts);
  const empty = labels.filter((l) => counts[l] === 0);
  if (empty.length) {
    throw new ClassifyError('invalidDataset', `${where}: class ${empty.map((l) => `'${l}'`).join(', ')} has no usable images; every class needs at least one`);
  }
  if (labels.length === 0) throw new ClassifyError('invalidDataset', `${where}: no classes found (expected one subfolder per class, each holding images)`);
  if (labels.length === 1) {
    throw new ClassifyError('invalidDataset', `${where}: only one class ('${labels[0]}'); a classifier needs at least two (one subfolder per class)`);
  }
}

/** A table of counts: one row per label, one column per split, with totals. */
export function countTable(splits: { name: string; counts: Counts }[], labels: readonly string[]): string {
  const header = ['class', ...splits.map((s) => s.name), ...(splits.length > 1 ? ['total'] : [])];
  const rows = labels.map((l) => {
    const values = splits.map((s) => s.counts[l] ?? 0);
    return [l, ...values.map(String), ...(splits.length > 1 ? [String(values.reduce((a, b) => a + b, 0))] : [])];
  });
  const totals = splits.map((s) => Object.values(s.counts).reduce((a, b) => a + b, 0));
  rows.push(['total', ...totals.map(String), ...(splits.length > 1 ? [String(totals.reduce((a, b) => a + b, 0))] : [])]);
  const widths = header.map((_, c) => Math.max(header[c]!.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export interface HashedItem {
  /** How reports name it, e.g. train/0/115.png. */
  name: string;
  split: string;
  label: string;
  /** Hash of the decoded pixels (or the file). */
  hash: string;
}

export interface DuplicateReport {
  /** Every group of two or more identical images. */
  groups: HashedItem[][];
  /** Groups that span splits (a test image also in train inflates the test score). */
  crossSplit: HashedItem[][];
  /** Groups whose images carry different labels. */
  labelConflicts: HashedItem[][];
}

export function findDuplicates(items: readonly HashedItem[]): DuplicateReport {
  const byHash = new Map<string, HashedItem[]>();
  for (const item of items) byHash.set(item.hash, [...(byHash.get(item.hash) ?? []), item]);
  const groups = [...byHash.values()].filter((g) => g.length > 1);
  return {
    groups,
    crossSplit: groups.filter((g) => new Set(g.map((i) => i.split)).size > 1),
    labelConflicts: groups.filter((g) => new Set(g.map((i) => i.label)).size > 1),
  };
}

/** Warning lines for a duplicate report (none when there is nothing to say). */
export function duplicateWarnings(r: DuplicateReport, limit = 10): string[] {
  const out: string[] = [];
  const show = (g: HashedItem[]) => g.map((i) => `${i.name} (label ${i.label})`).join(' = ');
  if (r.labelConflicts.length) {
    out.push(`${r.labelConflicts.length} group(s) of identical images carry different labels:`);
    for (const g of r.labelConflicts.slice(0, limit)) out.push(`  ${show(g)}`);
    if (r.labelConflicts.length > limit) out.push(`  ... and ${r.labelConflicts.length - limit} more`);
  }
  const plain = r.groups.filter((g) => !r.labelConflicts.includes(g));
  if (plain.length) {
    const images = plain.reduce((a, g) => a + g.length, 0);
    const cross = plain.filter((g) => r.crossSplit.includes(g)).length;
    out.push(`${plain.length} group(s) of exact duplicate images (${images} images${cross ? `, ${cross} group(s) across splits` : ''}):`);
    for (const g of plain.slice(0, limit)) out.push(`  ${show(g)}`);
    if (plain.length > limit) out.push(`  ... and ${plain.length - limit} more`);
  }
  if (r.crossSplit.length) out.push(`${r.crossSplit.length} duplicate group(s) span splits: held-out scores may be optimistic`);
  return out;
}
