/** A connected client/server session pair in memory, for tests here and in the server. */
import { ProtocolError } from './errors.ts';
import { generateIdentity, pinOf, type Pin, type ServerIdentity } from './identity.ts';
import { acceptClientSession, startClientSession, type ClientSession, type ServerSession, type SessionOptions } from './session.ts';

export interface SessionPair {
  client: ClientSession;
  server: ServerSession;
  identity: ServerIdentity;
  pin: Pin;
}

export async function connectedPair(options: SessionOptions & { identity?: ServerIdentity } = {}): Promise<SessionPair> {
  const identity = options.identity ?? (await generateIdentity());
  const pin = await pinOf(identity);
  const start = await startClientSession(pin, options);
  const { reply, session: server } = await acceptClientSession(start.hello, identity, options);
  const client = await start.finish(reply);
  return { client, server, identity, pin };
}

/** The ProtocolError code a promise rejects with, or 'no error': what the tests compare. */
export async function protocolErrorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return 'no error';
}
