/**
 * WebCrypto types under both of the project's configurations: the app's (DOM lib) names them
 * CryptoKey and SubtleCrypto globally, the server build (lib ES2023 + @types/node) only types
 * `globalThis.crypto`. Deriving them from `globalThis.crypto` works in both.
 */
export type Subtle = typeof globalThis.crypto.subtle;
export type Key = Awaited<ReturnType<Subtle['importKey']>>;

/** The fields of a P-256 JWK that matter here; structurally a JsonWebKey in both libs. */
export interface Jwk {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  ext?: boolean;
  key_ops?: string[];
}

export const subtle = (): Subtle => globalThis.crypto.subtle;
