/**
 * SecureSession: a finished handshake's keys, a frame sealer and opener, and the message
 * envelope. `seal(message)` gives the bytes to send; `open(bytes)` gives the validated message
 * or throws a ProtocolError, after which the session is closed: the transport should then close
 * the socket with `closeCodeFor(error.code)`.
 */
import { toHex } from './bytes.ts';
import { ProtocolError, type ProtocolErrorCode } from './errors.ts';
import { FrameOpener, FrameSealer, resolveLimits, type FrameLimits } from './frames.ts';
import { ClientHandshake, acceptClientHello, type SessionKeys } from './handshake.ts';
import type { Pin, ServerIdentity } from './identity.ts';
import { decodeMessage, encodeMessage, envelopeType, type ClientMessage, type Message, type Role, type ServerMessage } from './messages.ts';

export interface SessionOptions {
  /** Lower the frame limits (tests); they can never be raised. */
  limits?: Partial<FrameLimits>;
}

/** Errors of `seal` that refuse only that message; everything else closes the session. */
const SENDER_RECOVERABLE: ReadonlySet<ProtocolErrorCode> = new Set(['schema', 'tooLarge', 'badMessage']);

export class SecureSession<Send extends Message = Message, Receive extends Message = Message> {
  /** Hex of the 16-byte session id: public, for logs. */
  readonly id: string;
  readonly role: Role;
  readonly serverFingerprint: string;
  private failure: ProtocolErrorCode | null = null;
  private receiving: Promise<unknown> = Promise.resolve();

  private constructor(
    keys: SessionKeys,
    private readonly sealer: FrameSealer,
    private readonly opener: FrameOpener,
  ) {
    this.id = toHex(keys.sessionId);
    this.role = keys.role;
    this.serverFingerprint = keys.serverFingerprint;
  }

  static async fromKeys<S extends Message = Message, R extends Message = Message>(keys: SessionKeys, options: SessionOptions = {}): Promise<SecureSession<S, R>> {
    const limits = resolveLimits(options.limits);
    const [send, receive] = keys.role === 'client' ? (['c2s', 's2c'] as const) : (['s2c', 'c2s'] as const);
    const sealer = await FrameSealer.create(keys.sessionId, send, keys.sendSecret, limits);
    const opener = await FrameOpener.create(keys.sessionId, receive, keys.receiveSecret, limits);
    return new SecureSession<S, R>(keys, sealer, opener);
  }

  private get peer(): Role {
    return this.role === 'client' ? 'server' : 'client';
  }

  /** Null while open; else why it closed. */
  get closedWith(): ProtocolErrorCode | null {
    return this.failure;
  }
  get sendEpoch(): number {
    return this.sealer.epoch;
  }
  get receiveEpoch(): number {
    return this.opener.epoch;
  }

  /** The next sealed frame announces a new key in this direction (rekeying also happens by itself). */
  rekey(): void {
    this.sealer.requestRekey();
  }

  /** Closes both directions; later calls throw `closed`. */
  close(code: ProtocolErrorCode = 'closed'): void {
    this.failure ??= code;
    this.sealer.close(code);
    this.opener.close(code);
  }

  private check(): void {
    if (this.failure) throw new ProtocolError('closed', `the session is closed (${this.failure})`);
  }

  /** Validates, encodes and seals one message; resolves in call order, so send in that order. */
  async seal(message: Send): Promise<Uint8Array> {
    this.check();
    const envelope = encodeMessage(message, this.role); // refuses bad messages without closing
    try {
      return await this.sealer.seal(envelopeType(envelope), envelope);
    } catch (e) {
      const code = e instanceof ProtocolError ? e.code : 'closed';
      if (!SENDER_RECOVERABLE.has(code)) this.close(code);
      throw e instanceof ProtocolError ? e : new ProtocolError('closed', 'sealing failed');
    }
  }

  /** Opens, decodes and validates one frame; any failure closes the session. */
  open(frame: Uint8Array): Promise<Receive> {
    const run = this.receiving.then(async () => {
      this.check();
      try {
        const opened = await this.opener.open(frame);
        if (envelopeType(opened.plaintext) !== opened.type) throw new ProtocolError('badMessage', 'the envelope\'s type differs from the frame\'s');
        return decodeMessage(opened.plaintext, this.peer) as Receive;
      } catch (e) {
        const error = e instanceof ProtocolError ? e : new ProtocolError('badMessage', 'the message could not be read');
        this.close(error.code);
        throw error;
      }
    });
    this.receiving = run.catch(() => undefined);
    return run;
  }
}

export type ClientSession = SecureSession<ClientMessage, ServerMessage>;
export type ServerSession = SecureSession<ServerMessage, ClientMessage>;

/**
 * The client's handshake: send `hello`, pass the server's answer to `finish`. Refuses to start
 * without a pin.
 */
export async function startClientSession(
  pins: Pin | readonly Pin[],
  options: SessionOptions = {},
): Promise<{ hello: Uint8Array; finish(serverHello: Uint8Array): Promise<ClientSession> }> {
  const handshake = await ClientHandshake.start(pins);
  return {
    hello: handshake.hello,
    finish: async (serverHello) => SecureSession.fromKeys<ClientMessage, ServerMessage>(await handshake.finish(serverHello), options),
  };
}

/** The server's handshake: the client's hello in, the reply to send and the session out. */
export async function acceptClientSession(
  clientHello: Uint8Array,
  identity: ServerIdentity,
  options: SessionOptions = {},
): Promise<{ reply: Uint8Array; session: ServerSession }> {
  const { reply, keys } = await acceptClientHello(clientHello, identity);
  return { reply, session: await SecureSession.fromKeys<ServerMessage, ClientMessage>(keys, options) };
}
