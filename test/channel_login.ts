/** Logging in for tests, the way every client does now: inside the secure channel. */
import { MedclassClient } from '../shared/client/client.ts';
import { parsePin } from '../shared/protocol/identity.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';

export interface ServerAddress {
  url: string;
  pin: string;
}

/** A channel to the server, not yet logged in. */
export async function openClient(server: ServerAddress): Promise<MedclassClient> {
  return MedclassClient.connect(await connectWebSocket(server.url), await parsePin(server.pin));
}

/** A channel to the server, logged in as `user`. */
export async function loggedInClient(server: ServerAddress, user: string, password: string): Promise<MedclassClient> {
  const client = await openClient(server);
  try {
    await client.login(user, password);
  } catch (e) {
    client.close();
    throw e;
  }
  return client;
}

/** Logs in on a channel of its own and returns the token (for `resume` elsewhere); the channel closes, the login stays. */
export async function login(server: ServerAddress, user: string, password: string): Promise<{ token: string; role: string }> {
  const client = await openClient(server);
  try {
    const { token, role } = await client.login(user, password);
    return { token, role };
  } finally {
    client.close();
  }
}
