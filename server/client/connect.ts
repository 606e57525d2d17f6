import { createInterface } from 'node:readline';
import { MedclassClient } from '../../shared/client/client.ts';
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

/**
 * Opens the channel against the pinned key, then logs in inside it: the password never
 * travels outside the channel (docs/protocol.md section 5). What every client command needs.
 */
export async function connectAndAuthenticate(o: ConnectionOptions): Promise<MedclassClient> {
  const pins = await Promise.all(o.pin.map(parsePin));
  const password = process.env[o.passwordEnv] || (await promptPassword(o.user));
  const client = await MedclassClient.connect(await connectWebSocket(o.server), pins);
  try {
    await client.login(o.user, password);
  } catch (e) {
    client.close();
    throw new Error(`login refused: ${(e as Error).message}`, { cause: e });
  }
  return client;
}
