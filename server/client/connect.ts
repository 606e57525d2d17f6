import { MedclassClient } from '../../shared/client/client.ts';
import { parsePin } from '../../shared/protocol/identity.ts';
import { connectWebSocket, login } from './ws_transport.ts';

export interface ConnectionOptions {
  server: string;
  pin: string[];
  user: string;
  passwordEnv: string;
}

/** Logs in, opens the channel against the pinned key and authenticates: what every client command needs. */
export async function connectAndAuthenticate(o: ConnectionOptions): Promise<MedclassClient> {
  const password = process.env[o.passwordEnv];
  if (!password) throw new Error(`set the password in the environment variable ${o.passwordEnv} (see --password-env)`);
  const pins = await Promise.all(o.pin.map(parsePin));
  const { token } = await login(o.server, o.user, password);
  const client = await MedclassClient.connect(await connectWebSocket(o.server), pins);
  await client.authenticate(token);
  return client;
}
