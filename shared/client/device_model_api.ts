/**
 * `fetchModel` (docs/protocol.md, "Models on the device"): the current version's model
 * document of a service whose version allows `device`, for classifying on the device.
 */
import type { MessageOf } from '../protocol/messages.ts';
import { ClientError, MedclassClient } from './client.ts';

type Requester = Pick<MedclassClient, 'request'>;

export type DeviceModelDownload = Omit<MessageOf<'deviceModel'>, 'type' | 'requestId' | 'document'> & {
  /** The model file's text (shared/classify/model.ts): the device checks it as the server does. */
  document: string;
};

/** Rejects with the server's refusal (`modeNotAllowed`, `unsupportedModel`, `tooLarge`, ...) as a ClientError. */
export async function fetchDeviceModel(c: Requester, service: string): Promise<DeviceModelDownload> {
  const m = await c.request({ type: 'fetchModel', requestId: MedclassClient.newRequestId(), service });
  if (m.type !== 'deviceModel') throw new ClientError('badMessage', `expected deviceModel, the server sent ${m.type}`);
  if (m.service !== service) throw new ClientError('badMessage', `asked for the model of ${service}, the server sent ${m.service}'s`);
  return { service: m.service, version: m.version, classifier: m.classifier, document: new TextDecoder().decode(m.document) };
}
