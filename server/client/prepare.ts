import { sendingMode } from '../../shared/client/privacy.ts';
import { extractBatch, featureVector, prepareImage } from '../../shared/features/extract.ts';
import { decodeImageAsync } from '../../shared/image/index.ts';
import { packFloat32, packFloat64, type ClassifyImage, type PrivacyMode, type ServiceInfo } from '../../shared/protocol/messages.ts';

/**
 * What the command-line client sends for one file: the file itself, its reduced pixels, or
 * its feature vector made here on the exact kernels. No file name, and never a DICOM header.
 */
export async function prepareForService(bytes: Uint8Array, wanted: PrivacyMode, service: ServiceInfo): Promise<ClassifyImage> {
  const mode = sendingMode(bytes, wanted, service.privacyModes);
  if (mode === 'original') return { mode, data: bytes };
  const prepared = prepareImage(await decodeImageAsync(bytes), service.spec);
  if (mode === 'reduced') return { mode, data: { width: prepared.width, height: prepared.height, pixels: packFloat32(prepared.data) } };
  const { useCpuBackend } = await import('../features/backend.ts');
  await useCpuBackend();
  const [values] = await extractBatch([prepared], service.spec);
  return { mode, data: { vector: packFloat64(featureVector(values!, service.spec, prepared.height, prepared.width)) } };
}
