import { describe, expect, it } from 'vitest';
import { concat, toBase64url, utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { CLIENT_HELLO_LENGTH, ClientHandshake, SERVER_HELLO_LENGTH, acceptClientHello } from './handshake.ts';
import { generateIdentity, pinOf, type ServerIdentity } from './identity.ts';
import { SecureSession, acceptClientSession, startClientSession } from './session.ts';
import { protocolErrorCode as code } from './testing.ts';

const server = await generateIdentity();
const pin = await pinOf(server);
const sha256 = async (...parts: Uint8Array[]) => new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));

/** A ServerHello built by hand from the layout in docs/protocol.md, signed by `signer`. */
async function forgeServerHello(clientHello: Uint8Array, signer: ServerIdentity, claimed: ServerIdentity): Promise<Uint8Array> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const point = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const core = concat(Uint8Array.of(2, 2), crypto.getRandomValues(new Uint8Array(32)), point, claimed.fingerprintBytes);
  const th = await sha256(utf8('medclass/2 transcript'), clientHello, core);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signer.privateKey, concat(utf8('medclass/2 server signature\0'), th)));
  return concat(core, sig);
}

describe('handshake', () => {
  it('agrees on the session id and keys, with the layout of docs/protocol.md', async () => {
    const client = await ClientHandshake.start(pin);
    expect(client.hello.length).toBe(CLIENT_HELLO_LENGTH);
    expect([...client.hello.subarray(0, 2)]).toEqual([1, 2]);
    const { reply, keys: serverKeys } = await acceptClientHello(client.hello, server);
    expect(reply.length).toBe(SERVER_HELLO_LENGTH);
    expect([...reply.subarray(0, 2)]).toEqual([2, 2]);
    expect(reply.subarray(99, 131)).toEqual(server.fingerprintBytes);
    const clientKeys = await client.finish(reply);
    expect(clientKeys.sessionId).toEqual(serverKeys.sessionId);
    expect(clientKeys.serverFingerprint).toBe(server.fingerprint);

    // the transcript hash and session id are exactly as documented
    const th = await sha256(utf8('medclass/2 transcript'), client.hello, reply.subarray(0, 131));
    expect(clientKeys.transcriptHash).toEqual(th);
    expect(clientKeys.sessionId).toEqual((await sha256(utf8('medclass/2 session id'), th)).slice(0, 16));
    const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pin.key, reply.slice(131), concat(utf8('medclass/2 server signature\0'), th));
    expect(ok).toBe(true);

    // same keys: what one seals the other opens, both ways
    const c = await SecureSession.fromKeys(clientKeys);
    const s = await SecureSession.fromKeys(serverKeys);
    expect(c.id).toBe(s.id);
    expect(await s.open(await c.seal({ type: 'listServices' }))).toEqual({ type: 'listServices' });
    expect(await c.open(await s.seal({ type: 'ok', requestId: 'x' }))).toEqual({ type: 'ok', requestId: 'x' });
  });

  it('every handshake is fresh', async () => {
    const a = await ClientHandshake.start(pin);
    const b = await ClientHandshake.start(pin);
    expect(a.hello).not.toEqual(b.hello);
    const r1 = await acceptClientHello(a.hello, server);
    const r2 = await acceptClientHello(a.hello, server);
    expect(r1.keys.sessionId).not.toEqual(r2.keys.sessionId);
  });

  it('refuses a server whose key is not pinned', async () => {
    const other = await generateIdentity();
    const client = await ClientHandshake.start(pin);
    const { reply } = await acceptClientHello(client.hello, other);
    expect(await code(client.finish(reply))).toBe('pinMismatch');
  });

  it('accepts any of several pins (key rotation)', async () => {
    const next = await generateIdentity();
    const client = await ClientHandshake.start([pin, await pinOf(next)]);
    const { reply } = await acceptClientHello(client.hello, next);
    expect((await client.finish(reply)).serverFingerprint).toBe(next.fingerprint);
  });

  it('no pin, no session', async () => {
    expect(await code(ClientHandshake.start([]))).toBe('badKey');
    expect(await code(ClientHandshake.start(undefined as never))).toBe('badKey');
    expect(await code(ClientHandshake.start({ fingerprint: server.fingerprint } as never))).toBe('badKey');
    expect(await code(startClientSession([]))).toBe('badKey');
  });

  describe('a man in the middle fails', () => {
    it('swapping the server ephemeral key', async () => {
      const client = await ClientHandshake.start(pin);
      const { reply } = await acceptClientHello(client.hello, server);
      const mitm = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
      const tampered = reply.slice();
      tampered.set(new Uint8Array(await crypto.subtle.exportKey('raw', mitm.publicKey)), 34);
      expect(await code(client.finish(tampered))).toBe('badSignature');
    });

    it('swapping the client ephemeral key', async () => {
      const client = await ClientHandshake.start(pin);
      const own = await ClientHandshake.start(pin); // the MITM's own hello towards the server
      const forwarded = concat(client.hello.subarray(0, 34), own.hello.subarray(34));
      const { reply } = await acceptClientHello(forwarded, server);
      expect(await code(client.finish(reply))).toBe('badSignature');
    });

    it('with its own identity key, named as such', async () => {
      const mitm = await generateIdentity();
      const client = await ClientHandshake.start(pin);
      expect(await code(client.finish(await forgeServerHello(client.hello, mitm, mitm)))).toBe('pinMismatch');
    });

    it('with its own identity key, claiming the server\'s fingerprint', async () => {
      const mitm = await generateIdentity();
      const client = await ClientHandshake.start(pin);
      expect(await code(client.finish(await forgeServerHello(client.hello, mitm, server)))).toBe('badSignature');
      // the hand-built hello is right: signed by the real server it passes
      const honest = await ClientHandshake.start(pin);
      expect((await honest.finish(await forgeServerHello(honest.hello, server, server))).serverFingerprint).toBe(server.fingerprint);
    });

    it('flipping the nonce or version of a signed hello', async () => {
      for (const at of [2, 33, 98]) {
        const client = await ClientHandshake.start(pin);
        const { reply } = await acceptClientHello(client.hello, server);
        const tampered = reply.slice();
        tampered[at]! ^= 1;
        expect(await code(client.finish(tampered))).toMatch(/badSignature|badHandshake/);
      }
      const client = await ClientHandshake.start(pin);
      const { reply } = await acceptClientHello(client.hello, server);
      const flipped = reply.slice();
      flipped[160]! ^= 0x80;
      expect(await code(client.finish(flipped))).toBe('badSignature');
    });
  });

  it('a replayed ServerHello fails on a new client', async () => {
    const first = await ClientHandshake.start(pin);
    const { reply } = await acceptClientHello(first.hello, server);
    await first.finish(reply);
    const second = await ClientHandshake.start(pin);
    expect(await code(second.finish(reply))).toBe('badSignature');
  });

  it('a replayed ClientHello gets a new session that old frames cannot enter', async () => {
    const start = await startClientSession(pin);
    const { reply } = await acceptClientSession(start.hello, server);
    const client = await start.finish(reply);
    const frame = await client.seal({ type: 'resume', requestId: 'r', token: 'secret' });
    const replayed = await acceptClientSession(start.hello, server);
    expect(await code(replayed.session.open(frame))).toBe('tampered');
  });

  it('refuses malformed hellos with clear codes', async () => {
    const client = await ClientHandshake.start(pin);
    const hello = client.hello;
    const v1 = hello.slice();
    v1[1] = 1;
    expect(await code(acceptClientHello(v1, server))).toBe('unsupportedVersion');
    await expect(acceptClientHello(v1, server)).rejects.toThrow('unsupported protocol version 1; this server speaks version 2');
    expect(await code(acceptClientHello(hello.subarray(0, 98), server))).toBe('badHandshake');
    expect(await code(acceptClientHello(concat(hello, Uint8Array.of(0)), server))).toBe('badHandshake');
    const kind = hello.slice();
    kind[0] = 2;
    expect(await code(acceptClientHello(kind, server))).toBe('badHandshake');
    const offCurve = hello.slice();
    offCurve[70]! ^= 1;
    expect(await code(acceptClientHello(offCurve, server))).toBe('badHandshake');
    const compressed = hello.slice();
    compressed[34] = 0x02;
    expect(await code(acceptClientHello(compressed, server))).toBe('badHandshake');
    expect(await code(acceptClientHello(new Uint8Array(0), server))).toBe('badHandshake');

    const { reply } = await acceptClientHello(hello, server);
    const rv2 = reply.slice();
    rv2[1] = 0;
    expect(await code(client.finish(rv2))).toBe('unsupportedVersion');
    expect(await code(client.finish(reply))).toBe('badHandshake'); // one use: the failure ended it
  });

  it('a handshake finishes once', async () => {
    const client = await ClientHandshake.start(pin);
    const { reply } = await acceptClientHello(client.hello, server);
    const [a, b] = await Promise.allSettled([client.finish(reply), client.finish(reply)]);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && (b.reason as ProtocolError).code).toBe('badHandshake');
  });

  it('the ClientHello cannot be changed from outside', async () => {
    const client = await ClientHandshake.start(pin);
    const hello = client.hello;
    const { reply } = await acceptClientHello(hello, server);
    hello.fill(0);
    expect(toBase64url((await client.finish(reply)).sessionId)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
