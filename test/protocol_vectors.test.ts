/**
 * The published test vectors (docs/protocol-vectors.json) are what this implementation does:
 * every value is recomputed from the file's inputs and compared byte for byte; the ECDSA
 * signature (randomised) is verified instead, and a session built from the published
 * ServerHello opens the published frames.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { concat, utf8 } from '../shared/protocol/bytes.ts';
import { ClientHandshake, acceptClientHello } from '../shared/protocol/handshake.ts';
import { importIdentity, parsePin } from '../shared/protocol/identity.ts';
import { SecureSession } from '../shared/protocol/session.ts';
import type { ClientMessage, ServerMessage } from '../shared/protocol/messages.ts';
import { VECTORS_FILE_PATH } from './protocol_vectors_file.ts';
import { computeVectors, fromHex, type Vectors } from './protocol_vectors.ts';

const published = JSON.parse(readFileSync(VECTORS_FILE_PATH, 'utf8')) as Vectors;

describe('the protocol test vectors', () => {
  it('are reproduced byte for byte from their inputs', async () => {
    const again = await computeVectors(published.inputs, published.signature);
    expect(again).toEqual(published);
  });

  it('have a signature that verifies against the pin, over label_S and the transcript hash', async () => {
    const pin = await parsePin(published.pin);
    const signed = concat(utf8('medclass/2 server signature\0'), fromHex(published.transcriptHash));
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pin.key, fromHex(published.signature), signed)).toBe(true);
    // a fresh signature from our server differs (randomised) but the core is the same
    const identity = await importIdentity(published.inputs.identity);
    const client = await ClientHandshake.start(pin, { ephemeral: published.inputs.client.ephemeral, nonce: fromHex(published.inputs.client.nonce) });
    expect(Buffer.from(client.hello).toString('hex')).toBe(published.clientHello);
    const { reply } = await acceptClientHello(client.hello, identity, { ephemeral: published.inputs.server.ephemeral, nonce: fromHex(published.inputs.server.nonce) });
    expect(Buffer.from(reply.subarray(0, 131)).toString('hex')).toBe(published.serverHelloCore);
  });

  it('a client given the published ServerHello opens the published server frame, and the server the client frame', async () => {
    const pin = await parsePin(published.pin);
    const fixed = (s: Vectors['inputs']['client']) => ({ ephemeral: s.ephemeral, nonce: fromHex(s.nonce) });
    const client = await ClientHandshake.start(pin, fixed(published.inputs.client));
    const clientSession = await SecureSession.fromKeys<ClientMessage, ServerMessage>(await client.finish(fromHex(published.serverHello)));
    expect(await clientSession.open(fromHex(published.s2c.frame))).toEqual(published.inputs.s2cMessage);
    const { keys } = await acceptClientHello(fromHex(published.clientHello), await importIdentity(published.inputs.identity), fixed(published.inputs.server));
    const serverSession = await SecureSession.fromKeys<ServerMessage, ClientMessage>(keys);
    expect(await serverSession.open(fromHex(published.c2s.frame))).toEqual(published.inputs.c2sMessage);
    expect(clientSession.id).toBe(published.sessionId);
  });
});
