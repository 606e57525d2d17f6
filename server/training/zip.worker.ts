import { Piscina } from 'piscina';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { readZipDataset, ZipError, type ZipDataset, type ZipLimits } from './zip_dataset.ts';

/** What comes back: the dataset (its images views of one buffer, moved, not copied), or a refusal to rebuild on the other side. */
export type UnzipResult = { ok: true; dataset: ZipDataset } | { ok: false; kind: 'zip' | 'classify'; code: string; message: string };

/** A piscina task: a dataset ZIP in (its blocks moved here), its images out, inflated on this thread. */
export default function unzip({ blocks, limits }: { blocks: Uint8Array[]; limits: ZipLimits }): UnzipResult | ReturnType<typeof Piscina.move> {
  let dataset: ZipDataset;
  try {
    let zip = blocks[0] ?? new Uint8Array(0);
    if (blocks.length > 1) {
      zip = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
      let at = 0;
      for (const b of blocks.splice(0)) {
        zip.set(b, at);
        at += b.length;
      }
    }
    dataset = readZipDataset(zip, limits);
  } catch (e) {
    // errors lose their class and code on the way back; the refusals the user can fix travel as data
    if (e instanceof ZipError) return { ok: false, kind: 'zip', code: e.code, message: e.message };
    if (e instanceof ClassifyError) return { ok: false, kind: 'classify', code: e.code, message: e.message };
    throw e;
  }
  const buffer = dataset.items[0]?.bytes.buffer;
  const result: UnzipResult = { ok: true, dataset };
  if (!buffer) return result;
  // piscina's Transferable interface: the buffer goes in the transfer list, the value is what arrives
  const movable = {
    get [Piscina.transferableSymbol]() {
      return buffer;
    },
    get [Piscina.valueSymbol]() {
      return result;
    },
  };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
}
