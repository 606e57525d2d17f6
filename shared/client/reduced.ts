import type { PreparedImage } from '../features/extract.ts';
import { packFloat32 } from '../protocol/messages.ts';

/**
 * The `data` of a `reduced` image (docs/protocol.md): the grey pixels as prepareImage made
 * them, and, only when the service's spec has colour features (prepareImage then made the
 * planes), the R, G and B planes after them with `channels: 3`. Nothing more leaves the device.
 */
export function reducedData(prepared: PreparedImage): { width: number; height: number; channels?: 3; pixels: Uint8Array } {
  const { width, height, data, planes } = prepared;
  if (!planes) return { width, height, pixels: packFloat32(data) };
  const all = new Float32Array(data.length + planes.length);
  all.set(data);
  all.set(planes, data.length);
  return { width, height, channels: 3, pixels: packFloat32(all) };
}
