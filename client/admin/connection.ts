/**
 * The admin page's own connection over the secure channel (the pinned key, then the session's
 * token): an upload and the job trained on it belong to the connection that sent them.
 */
import { MedclassClient } from '../../shared/client/client.ts';
import { parsePin } from '../../shared/protocol/identity.ts';
import { loadServerConfig } from '../lib/config.ts';
import { openWebSocket } from '../lib/transport.ts';

export async function connectAdmin(token: string): Promise<{ client: MedclassClient; closed: Promise<unknown> }> {
  const config = await loadServerConfig();
  const pins = await parsePin(config.pin);
  const transport = await openWebSocket(config.websocket);
  const client = await MedclassClient.connect(transport, pins);
  const who = await client.authenticate(token);
  if (who.role !== 'admin') {
    client.close();
    throw new Error('this page is for administrators');
  }
  return { client, closed: transport.closed };
}
