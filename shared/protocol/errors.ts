/**
 * Errors of the secure channel (docs/protocol.md section 6). Every failure of the protocol code,
 * whatever the input, surfaces as a ProtocolError; messages say what happened in words and never
 * carry key material, plaintext, tokens or the peer's bytes.
 */
export const PROTOCOL_ERROR_CODES = {
  badHandshake: 4001,
  unsupportedVersion: 4002,
  badSignature: 4003,
  pinMismatch: 4004,
  badKey: 4005,
  badFrame: 4010,
  truncated: 4011,
  replay: 4012,
  reorder: 4013,
  tampered: 4014,
  keyExhausted: 4015,
  tooLarge: 4016,
  badMessage: 4020,
  schema: 4021,
  closed: 4030,
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The WebSocket close code (4000 range, application-defined) to send for an error. */
export const closeCodeFor = (code: ProtocolErrorCode): number => PROTOCOL_ERROR_CODES[code];

/**
 * Runs a WebCrypto (or other library) step and turns whatever it throws into a ProtocolError
 * with a fixed message: the library's own message is dropped, as it could echo input.
 */
export async function guard<T>(code: ProtocolErrorCode, message: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(code, message);
  }
}
