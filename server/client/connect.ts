import { createInterface } from 'node:readline';
import { MedclassClient } from '../../shared/client/client.ts';
import { ReconnectingClient } from '../../shared/client/reconnecting.ts';
import { parsePin } from '../../shared/protocol/identity.ts';
import { connectWebSocket } from './ws_transport.ts';

export interface ConnectionOptions {
  server: string;
  pin: string[];
  user: string;
  passwordEnv: string;
}

/** Asks for the password on the terminal without echoing it. */
function promptPassword(user: string): Promise<string> {
  if (!process.stdin.isTTY) return Promise.reject(new Error('no password: set it in the environment variable given by --password-env, or run on a terminal'));
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput(s: string): void; output: NodeJS.WritableStream };
  let asked = false;
  out._writeToOutput = (s: string) => {
    if (!asked) out.output.write(s);
  };
  return new Promise((resolve) => {
    rl.question(`password for ${user}: `, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    asked = true;
  });
}

/** Opens the channel against the pinned key and logs in with the password; the token is for a reconnect. */
async function openAndLogIn(o: ConnectionOptions): Promise<{ client: MedclassClient; token: string }> {
  const pins = await Promise.all(o.pin.map(parsePin));
  const password = process.env[o.passwordEnv] || (await promptPassword(o.user));
  const client = await MedclassClient.connect(await connectWebSocket(o.server), pins);
  try {
    return { client, token: (await client.login(o.user, password)).token };
  } catch (e) {
    client.close();
    throw new Error(`login refused: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Opens the channel against the pinned key, then logs in inside it: the password never
 * travels outside the channel (docs/protocol.md section 5). What every client command needs.
 */
export async function connectAndAuthenticate(o: ConnectionOptions): Promise<MedclassClient> {
  return (await openAndLogIn(o)).client;
}

/**
 * Like connectAndAuthenticate, and when the connection ends under a request (the instance
 * shut down or died), connects again, resumes the login with its token (no second password
 * attempt) and sends again what was not answered: behind one address another instance takes over.
 */
export async function connectReconnecting(o: ConnectionOptions, onReconnect?: (reason: string) => void): Promise<ReconnectingClient> {
  const pins = await Promise.all(o.pin.map(parsePin));
  const client = new ReconnectingClient(
    async (token) => {
      if (token === null) return openAndLogIn(o);
      const c = await MedclassClient.connect(await connectWebSocket(o.server), pins);
      try {
        return { client: c, token: (await c.resume(token)).token };
      } catch (e) {
        c.close();
        throw e;
      }
    },
    onReconnect ? { onReconnect } : {},
  );
  await client.client();
  return client;
}
