import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorMessage, MedclassError } from '../../shared/errors.ts';
import { extractFeatures, featureVector } from '../../shared/features/extract.ts';
import { colourPlanes, type GreyImage } from '../../shared/image/grey.ts';
import { wantsColour, type FeatureSpec } from '../../shared/features/spec.ts';
import { decodeImageAsync, type DecodeLimits } from '../../shared/image/index.ts';

/** An image to extract: a file to read, or bytes already in memory (an uploaded dataset). */
export type VectorJob = { name: string; path: string } | { name: string; bytes: Uint8Array };

/** One image: its feature vector and the hash of its decoded pixels, or why it cannot be used. */
export type VectorResult =
  | { ok: true; name: string; vector: Float64Array; hash: string; width: number; height: number }
  | { ok: false; name: string; error: string; hash?: string };

/**
 * SHA-256 of the decoded grey pixels and their size, and of the colour planes when the spec
 * has colour features: equal for images the classifier cannot tell apart.
 */
export function pixelHash(img: GreyImage, colour = false): string {
  const h = createHash('sha256');
  h.update(`${img.width}x${img.height}\n`);
  h.update(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength));
  const planes = colour ? colourPlanes(img) : null;
  if (planes) h.update(new Uint8Array(planes.buffer));
  return h.digest('hex');
}

/** Reads (or takes), decodes, hashes and extracts a chunk of images (with the kernel runner in use: server_kernels.ts). */
export async function extractVectors(jobs: readonly VectorJob[], spec: FeatureSpec, limits?: DecodeLimits): Promise<VectorResult[]> {
  const out: VectorResult[] = new Array(jobs.length);
  const images: { i: number; img: GreyImage; hash: string }[] = [];
  await Promise.all(
    jobs.map(async (job, i) => {
      try {
        const bytes = 'bytes' in job ? job.bytes : new Uint8Array(await readFile(job.path));
        const img = await decodeImageAsync(bytes, limits);
        images.push({ i, img, hash: pixelHash(img, wantsColour(spec)) });
      } catch (e) {
        const why = e instanceof MedclassError ? e.message : `cannot read: ${errorMessage(e)}`;
        out[i] = { ok: false, name: job.name, error: why };
      }
    }),
  );
  images.sort((a, b) => a.i - b.i);
  const extracted = await extractFeatures(
    images.map((r) => r.img),
    spec,
  );
  images.forEach((r, k) => {
    const e = extracted[k]!;
    const name = jobs[r.i]!.name;
    out[r.i] = e.ok
      ? { ok: true, name, vector: featureVector(e.values, spec, e.resizedHeight, e.resizedWidth), hash: r.hash, width: e.width, height: e.height }
      : { ok: false, name, error: e.error.message, hash: r.hash };
  });
  return out;
}
