import { sendingMode } from '../../shared/client/privacy.ts';
import { extractBatch, featureVector, prepareImage } from '../../shared/features/extract.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { decodeImageAsync } from '../../shared/image/index.ts';
import { reducedData } from '../../shared/client/reduced.ts';
import { packFloat64, type ClassifyImage, type ImageMode, type ServiceInfo } from '../../shared/protocol/messages.ts';

/**
 * What the command-line client sends for one file: the file itself, its reduced pixels, or
 * its feature vector made here on the exact kernels. No file name, and never a DICOM header.
 */
export async function prepareForService(bytes: Uint8Array, wanted: ImageMode, service: ServiceInfo): Promise<ClassifyImage> {
  const mode = sendingMode(bytes, wanted, service.privacyModes);
  if (mode === 'original') return { mode, data: bytes };
  // an older server's spec lacks the keys added since: parsing gives them their defaults
  const spec = parseFeatureSpec(service.spec);
  const prepared = prepareImage(await decodeImageAsync(bytes), spec);
  if (mode === 'reduced') return { mode, data: reducedData(prepared) };
  const { useServerKernels } = await import('../features/server_kernels.ts');
  useServerKernels();
  const [values] = await extractBatch([prepared], spec);
  return { mode, data: { vector: packFloat64(featureVector(values!, spec, prepared.height, prepared.width)) } };
}
