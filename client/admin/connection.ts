/**
 * The admin page's own connection over the secure channel (the pinned key, then the session's
 * token): an upload and the job trained on it belong to the connection that sent them.
 */
import type { MedclassClient } from '../../shared/client/client.ts';
import { openChannel } from '../lib/channel.svelte.ts';

export async function connectAdmin(token: string): Promise<{ client: MedclassClient; closed: Promise<unknown> }> {
  const { client, transport } = await openChannel();
  const who = await client.resume(token);
  if (who.role !== 'admin') {
    client.close();
    throw new Error('this page is for administrators');
  }
  return { client, closed: transport.closed };
}
