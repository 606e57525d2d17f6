/**
 * Messages (docs/protocol.md section 4): zod schemas per type, and the binary envelope that
 * carries them: a small header, the body as JSON, and every Uint8Array of the message as a raw
 * attachment referenced from the JSON by index, so images cost their size and not 4/3 of it.
 */
import { z } from 'zod';
import { featureSpecSchema } from '../features/spec.schema.ts';
import { fromUtf8, utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { MAX_MESSAGE_BYTES } from './frames.ts';

export const ENVELOPE_HEADER_LENGTH = 8;
export const MAX_ATTACHMENTS = 256;
export const MAX_JSON_BYTES = 2 ** 20;
export const MAX_DEPTH = 32;
export const MAX_IMAGES = 64;
export const MAX_CHUNK_BYTES = 4 * 2 ** 20;
/** The key that marks an attachment reference in the JSON; reserved everywhere else. */
const BIN = '$bin';

export type Role = 'client' | 'server';
export const ROLES = ['admin', 'clinician'] as const;
/**
 * What a service version allows: the three ways an image may leave the device (`original`,
 * `reduced`, `features`) and `device`, the model itself going to the device so that the app
 * classifies there, online or offline (fetchModel). The first three are also the image modes.
 */
export const PRIVACY_MODES = ['original', 'reduced', 'features', 'device'] as const;
export type PrivacyMode = (typeof PRIVACY_MODES)[number];
export const IMAGE_MODES = ['original', 'reduced', 'features'] as const;
export type ImageMode = (typeof IMAGE_MODES)[number];
/** The classifiers a device can run (shared/classify); any other model type is refused for devices. */
export const DEVICE_CLASSIFIERS = ['svm', 'knn', 'cnn', 'ensemble'] as const;
/** The largest model document a `deviceModel` carries (it must fit one message). */
export const MAX_DEVICE_MODEL_BYTES = 64 * 2 ** 20;

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an id is 1 to 64 of A-Z a-z 0-9 _ -');
const serviceName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a service name is 1 to 64 of A-Z a-z 0-9 . _ -');
const version = z.number().int().min(1).max(2 ** 31);
const count = (max: number) => z.number().int().min(0).max(max);
const label = z.string().min(1).max(128);
/** A login token: opaque to the client, only ever inside the channel. */
const token = z.string().min(1).max(4096);
const description = z.string().max(4000);
const ms = z.number().finite().min(0);

/** Raw bytes, carried as an attachment. */
const bytes = (min: number, max: number) =>
  z
    .custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be bytes (Uint8Array)')
    .refine((b) => b.length >= min && b.length <= max, `must be ${min} to ${max} bytes`);

const privacyModes = z
  .array(z.enum(PRIVACY_MODES))
  .min(1)
  .max(PRIVACY_MODES.length)
  .refine((m) => new Set(m).size === m.length, 'privacy modes must not repeat');

const imageName = z.string().max(256).optional();
const side = z.number().int().min(1).max(65535);
export const imageSchema = z.discriminatedUnion('mode', [
  /** The encoded file as it is (PNG, JPEG, ...). */
  z.strictObject({ name: imageName, mode: z.literal('original'), data: bytes(1, MAX_MESSAGE_BYTES) }),
  /**
   * Grey float32 pixels (little-endian), row-major, resized by the client. With `channels: 3`
   * (for a service with colour features) the grey plane is followed by the R, G and B planes.
   */
  z.strictObject({
    name: imageName,
    mode: z.literal('reduced'),
    // a pixel count that does not match width x height (x4 planes with channels 3) is a per-image error (the server's), not a broken message
    data: z.strictObject({ width: side, height: side, channels: z.union([z.literal(1), z.literal(3)]).optional(), pixels: bytes(4, MAX_MESSAGE_BYTES) }),
  }),
  /** The float64 feature vector (little-endian), extracted by the client. */
  z.strictObject({
    name: imageName,
    mode: z.literal('features'),
    // whole float64 values (a multiple of 8 bytes) is checked per image by the server
    data: z.strictObject({ vector: bytes(8, MAX_MESSAGE_BYTES) }),
  }),
]);

/**
 * `train`'s automatic tuning (the CLI's --auto): feature sets, sizes, classifiers and their
 * settings compared by cross-validation within `budgetSeconds` (the whole job), class weights
 * and the threshold chosen on val. `features: 'spec'` keeps the spec's features and size.
 */
export const autoSchema = z.strictObject({
  budgetSeconds: z.number().int().min(5).max(3600),
  features: z.enum(['search', 'spec']).optional(),
  operatingPoint: z.enum(['balanced', 'accuracy']).optional(),
  /** What ranks candidates and finalists: 'auc' (AUC, then balanced accuracy; the default) or 'balanced'. */
  rankBy: z.enum(['auc', 'balanced']).optional(),
});

const classifierSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('svm'),
    kernel: z.enum(['rbf', 'linear']).optional(),
    C: z.number().finite().positive().max(1e6).optional(),
    gamma: z.union([z.number().finite().positive().max(1e6), z.enum(['scale', 'auto'])]).optional(),
    classWeight: z.enum(['balanced']).nullable().optional(),
    probability: z.boolean().optional(),
  }),
  z.strictObject({
    kind: z.literal('knn'),
    k: z.number().int().min(1).max(1000).optional(),
    metric: z.enum(['euclidean', 'cosine']).optional(),
    weights: z.enum(['uniform', 'distance']).optional(),
  }),
  /** The convolutional network (issue 14): on the image itself, so the spec's features are `pixels` or `colourPixels`. */
  z.strictObject({
    kind: z.literal('cnn'),
    epochs: z.number().int().min(1).max(500).optional(),
    widths: z.array(z.number().int().min(1).max(256)).min(1).max(6).optional(),
    augment: z.boolean().optional(),
    flip: z.boolean().optional(),
    classWeight: z.enum(['balanced']).nullable().optional(),
  }),
]);

const unit = z.number().finite().min(0).max(1);

/** A CNN epoch as trainProgress carries it: the curves of the admin page. */
const epochReport = z.strictObject({
  epoch: count(100_000),
  epochs: count(100_000),
  loss: z.number().finite().min(0),
  accuracy: unit,
  valLoss: z.number().finite().min(0),
  valAccuracy: unit,
  valAuc: unit.nullable(),
});

const metricsSummary = z.strictObject({ n: count(2 ** 40), accuracy: unit, balancedAccuracy: unit, auc: unit.nullable() });
const shortText = z.string().max(256);

/** One kept version of a service, as admins see it (the store's VersionRecord). */
const versionSchema = z.strictObject({
  version,
  createdAt: shortText,
  createdBy: shortText,
  description,
  privacyModes,
  /** Read from the model document when it was published; null when it was not one. */
  summary: z
    .strictObject({
      classifier: shortText,
      features: z.array(shortText).max(64),
      size: count(65535),
      labels: z.array(label).max(1000),
      trainedOn: count(2 ** 40),
      test: metricsSummary.nullable(),
      estimate: metricsSummary.extend({ mode: shortText }).nullable(),
    })
    .nullable(),
});

const serviceSchema = z.strictObject({
  name: serviceName,
  /** The current version's description and privacy modes: they belong to the version. */
  description,
  version,
  labels: z.array(label).min(1).max(1000),
  privacyModes,
  spec: featureSpecSchema,
  /** The exact width and height a `reduced` image must have (spec.size, or the training images' size when it is 0). */
  inputSize: z.strictObject({ width: side, height: side }).optional(),
  /** Every kept version, oldest first: sent to admins only. */
  versions: z.array(versionSchema).max(10_000).optional(),
});

const msg = <C extends number, F extends Role, S extends z.ZodType>(code: C, from: F, body: S) => ({ code, from, body });

const deviceToken = z.string().regex(/^[\w-]{1,64}\.[\w-]{1,64}$/, 'a device token is two base64url parts joined by a dot');
const username = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'a user name is 2 to 64 of a-z 0-9 . _ - (starting with a letter or digit)');
const password = z.string().min(1).max(1024);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z)?$/, 'a date is YYYY-MM-DD or an ISO time in UTC');
const auditText = z.string().max(256);
const auditEntrySchema = z.strictObject({
  id: z.number().int().min(1),
  at: z.string().max(64),
  user: auditText.nullable(),
  action: auditText,
  service: auditText.nullable(),
  modelVersion: z.number().int().nullable(),
  outcome: auditText,
  detail: z.record(z.string().max(64), z.union([z.number(), z.string().max(256), z.boolean()])).nullable(),
});
const userSummarySchema = z.strictObject({ username, role: z.enum(ROLES), disabled: z.boolean(), mustChangePassword: z.boolean(), createdAt: z.string().max(64) });

/**
 * Codes 30 to 49: a user's own account, user management and the audit trail (admins), and the
 * user's vault key (docs/protocol.md section 4, "Accounts and audit"). Each is authorised on its own.
 */
const ACCOUNT_MESSAGES = {
  changePassword: msg(30, 'client', z.strictObject({ requestId: id, currentPassword: password, newPassword: password })),
  listUsers: msg(31, 'client', z.strictObject({ requestId: id })),
  users: msg(32, 'server', z.strictObject({ requestId: id, users: z.array(userSummarySchema).max(100_000) })),
  addUser: msg(33, 'client', z.strictObject({ requestId: id, username, role: z.enum(ROLES) })),
  /** The answer to addUser and resetPassword: shown once to the admin, to be changed at the user's next login. */
  oneTimePassword: msg(34, 'server', z.strictObject({ requestId: id, username, password: z.string().min(12).max(256) })),
  resetPassword: msg(35, 'client', z.strictObject({ requestId: id, username })),
  setRole: msg(36, 'client', z.strictObject({ requestId: id, username, role: z.enum(ROLES) })),
  setDisabled: msg(37, 'client', z.strictObject({ requestId: id, username, disabled: z.boolean() })),
  auditQuery: msg(
    38,
    'client',
    z.strictObject({
      requestId: id,
      user: auditText.optional(),
      service: auditText.optional(),
      action: auditText.optional(),
      /** From this day or time (inclusive), up to `to` (a day: its end, inclusive). */
      from: isoDate.optional(),
      to: isoDate.optional(),
      /** Entries older than this id (the next page). */
      before: z.number().int().min(1).optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    }),
  ),
  auditEntries: msg(39, 'server', z.strictObject({ requestId: id, entries: z.array(auditEntrySchema).max(1000), more: z.boolean() })),
  vaultKey: msg(40, 'client', z.strictObject({ requestId: id })),
  /** 32 random bytes that are this user's alone: the web app wraps its device vault's key with them. */
  vault: msg(41, 'server', z.strictObject({ requestId: id, key: bytes(32, 32) })),
} as const;

/**
 * Codes 60 to 64: a model trained outside the server (in the admin's browser, issue 14) published
 * over the channel. `model` is the model document's UTF-8 text (shared/classify/model.ts); the
 * server checks it, loads it and classifies a probe image with it before it becomes a version.
 */
const MODEL_MESSAGES = {
  publishModel: msg(60, 'client', z.strictObject({ requestId: id, service: serviceName, description, privacyModes, model: bytes(1, MAX_MESSAGE_BYTES) })),
} as const;

/**
 * Codes 65 to 69: a service's model for the device (docs/protocol.md, "Models on the device"),
 * only where its current version allows `device`. The document is the model file's UTF-8 text,
 * checked on the device as on the server (its integrity hash, its schema).
 */
const DEVICE_MESSAGES = {
  fetchModel: msg(65, 'client', z.strictObject({ requestId: id, service: serviceName })),
  deviceModel: msg(
    66,
    'server',
    z.strictObject({ requestId: id, service: serviceName, version, classifier: z.enum(DEVICE_CLASSIFIERS), document: bytes(2, MAX_DEVICE_MODEL_BYTES) }),
  ),
} as const;

/** Every message type: its wire code, which side may send it, its body. Codes never change meaning. */
export const MESSAGES = {
  // 1 and 2 (v1's authenticate, authenticated) are retired: login happens with 20 to 23
  listServices: msg(3, 'client', z.strictObject({})),
  services: msg(4, 'server', z.strictObject({ services: z.array(serviceSchema).max(1000) })),
  classify: msg(5, 'client', z.strictObject({ requestId: id, service: serviceName, images: z.array(imageSchema).min(1).max(MAX_IMAGES) })),
  result: msg(
    6,
    'server',
    z.strictObject({
      requestId: id,
      index: count(MAX_IMAGES - 1),
      label,
      scores: z
        .record(label, z.number().finite())
        .refine((s) => Object.keys(s).length <= 1000, 'at most 1000 scores'),
      modelVersion: version,
      timings: z.strictObject({ decryptMs: ms, decodeMs: ms, extractMs: ms, classifyMs: ms }),
    }),
  ),
  error: msg(
    7,
    'server',
    z.strictObject({
      requestId: id.optional(),
      /** The image of a classify request that this error is about, when it is about one. */
      index: count(MAX_IMAGES - 1).optional(),
      code: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,39}$/, 'an error code is a short identifier'),
      message: z.string().max(4000),
    }),
  ),
  uploadStart: msg(
    8,
    'client',
    z.strictObject({ requestId: id, uploadId: id, name: z.string().min(1).max(256), totalBytes: count(2 ** 40), files: z.number().int().min(1).max(10_000_000) }),
  ),
  uploadChunk: msg(9, 'client', z.strictObject({ uploadId: id, seq: count(2 ** 32), data: bytes(1, MAX_CHUNK_BYTES) })),
  uploadEnd: msg(10, 'client', z.strictObject({ requestId: id, uploadId: id })),
  train: msg(11, 'client', z.strictObject({ requestId: id, uploadId: id, spec: featureSpecSchema, classifier: classifierSchema, auto: autoSchema.optional() })),
  trainProgress: msg(
    12,
    'server',
    z
      .strictObject({
        jobId: id,
        phase: z.string().regex(/^[A-Za-z]{1,32}$/, 'a phase is a short word'),
        done: count(2 ** 40),
        total: count(2 ** 40),
        /** The CNN: the epoch just finished (loss and accuracy on train and on the validation images). */
        epoch: epochReport.optional(),
      })
      .refine((p) => p.done <= p.total, 'done must not pass total'),
  ),
  trainDone: msg(13, 'server', z.strictObject({ jobId: id, report: z.record(z.string().max(256), z.json()) })),
  publish: msg(14, 'client', z.strictObject({ requestId: id, jobId: id, service: serviceName, description, privacyModes })),
  /** Makes any kept version current: back or forward (the name stays for compatibility). */
  rollback: msg(15, 'client', z.strictObject({ requestId: id, service: serviceName, version })),
  ok: msg(16, 'server', z.strictObject({ requestId: id, jobId: id.optional() })),
  /** Pushed to every authenticated connection when a service is published or its current version changes. */
  serviceChanged: msg(17, 'server', z.strictObject({ service: serviceSchema })),
  /** Admins: forget a kept upload now. */
  dropUpload: msg(18, 'client', z.strictObject({ requestId: id, uploadId: id })),
  /** Pushed to an upload's owner when the server drops it unasked (expired, or the memory cap). */
  uploadDropped: msg(19, 'server', z.strictObject({ uploadId: id, reason: z.enum(['expired', 'memory']), message: z.string().max(1000) })),
  // 17 to 19: admin versions; 20 to 29: login (docs/protocol.md section 5); 30 to 49: user management and audit
  login: msg(
    20,
    'client',
    // deviceToken: from this client's last login as this user; keeps its own allowance of attempts (login_guard.ts)
    z.strictObject({ requestId: id, username: z.string().min(1).max(256), password: z.string().min(1).max(1024), deviceToken: deviceToken.optional() }),
  ),
  resume: msg(21, 'client', z.strictObject({ requestId: id, token })),
  loggedIn: msg(
    22,
    'server',
    z.strictObject({
      requestId: id,
      user: z.string().min(1).max(256),
      role: z.enum(ROLES),
      token,
      expiresAt: z.number().int().min(0).max(2 ** 53 - 1),
      /** After `login` (not `resume`): to present at this client's next login as this user. */
      deviceToken: deviceToken.optional(),
      /** A one-time password: only `changePassword` is served until it is changed. */
      mustChangePassword: z.boolean().optional(),
    }),
  ),
  logout: msg(23, 'client', z.strictObject({ requestId: id })),
  ...ACCOUNT_MESSAGES,
  ...MODEL_MESSAGES,
  ...DEVICE_MESSAGES,
} as const;

type Table = typeof MESSAGES;
export type MessageType = keyof Table;
/** zod types an empty strict object as Record<string, never>, which would forbid `type` itself. */
type Fields<T> = string extends keyof T ? unknown : T;
export type MessageOf<K extends MessageType> = { type: K } & Fields<z.output<Table[K]['body']>>;
export type Message = { [K in MessageType]: MessageOf<K> }[MessageType];
type TypesFrom<R extends Role> = { [K in MessageType]: Table[K]['from'] extends R ? K : never }[MessageType];
export type ClientMessage = Extract<Message, { type: TypesFrom<'client'> }>;
export type ServerMessage = Extract<Message, { type: TypesFrom<'server'> }>;
export type ClassifyImage = z.output<typeof imageSchema>;
export type ServiceInfo = z.output<typeof serviceSchema>;
export type AuditEntryInfo = z.output<typeof auditEntrySchema>;
export type UserInfo = z.output<typeof userSummarySchema>;
export type ServiceVersionInfo = z.output<typeof versionSchema>;

const BY_CODE = new Map<number, MessageType>(Object.entries(MESSAGES).map(([name, m]) => [m.code, name as MessageType]));
export const messageTypeOf = (code: number): MessageType | undefined => BY_CODE.get(code);

const badMessage = (message: string) => new ProtocolError('badMessage', message);

/** Problems by path, never values: a message body can hold tokens and patient data. */
function schemaError(type: string, error: z.ZodError): ProtocolError {
  const problems = error.issues.slice(0, 5).map((i) => {
    const path = i.path.map((p) => (typeof p === 'number' ? p : String(p).slice(0, 32))).join('.') || '(body)';
    return `${path}: ${i.code === 'unrecognized_keys' ? 'unexpected field' : i.message}`;
  });
  return new ProtocolError('schema', `invalid ${type} message: ${problems.join('; ')}`.slice(0, 1000));
}

function checkRole(type: MessageType, from: Role | undefined): void {
  if (from !== undefined && MESSAGES[type].from !== from) throw new ProtocolError('schema', `a ${from} may not send ${type}`);
}

/** Parses a body against its schema (the transforms, e.g. the spec's feature order, apply). */
export function validateMessage(message: unknown, from?: Role): Message {
  const type = (message as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.hasOwn(MESSAGES, type)) throw new ProtocolError('schema', 'unknown message type');
  checkRole(type as MessageType, from);
  const { type: _, ...body } = message as { type: string };
  const parsed = MESSAGES[type as MessageType].body.safeParse(body);
  if (!parsed.success) throw schemaError(type, parsed.error);
  return { type, ...(parsed.data as object) } as Message;
}

/** Replaces each Uint8Array by {"$bin": i}, in the order JSON.stringify will write them. */
function detach(value: unknown, attachments: Uint8Array[], depth: number): unknown {
  if (depth > MAX_DEPTH) throw badMessage(`a message is nested deeper than ${MAX_DEPTH} levels`);
  if (value instanceof Uint8Array) {
    attachments.push(value);
    return { [BIN]: attachments.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => detach(v, attachments, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === BIN || k === '__proto__') throw new ProtocolError('schema', `the key ${k} is reserved`);
      out[k] = detach(v, attachments, depth + 1);
    }
    return out;
  }
  return value;
}

/** The inverse of detach; references must come exactly as 0, 1, 2, ... so each envelope has one encoding. */
function attach(value: unknown, attachments: Uint8Array[], next: { i: number }, depth: number): unknown {
  if (depth > MAX_DEPTH) throw badMessage(`a message is nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((v) => attach(v, attachments, next, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (Object.hasOwn(value, BIN)) {
    const i = (value as Record<string, unknown>)[BIN];
    if (keys.length !== 1 || i !== next.i || next.i >= attachments.length) throw badMessage('an attachment reference is out of order or out of range');
    next.i += 1;
    return attachments[i as number];
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (k === '__proto__') throw badMessage('the key __proto__ is not allowed');
    out[k] = attach((value as Record<string, unknown>)[k], attachments, next, depth + 1);
  }
  return out;
}

/** Validates a message and writes its envelope. */
export function encodeMessage(message: Message, from?: Role): Uint8Array {
  const valid = validateMessage(message, from);
  const { type, ...body } = valid;
  const attachments: Uint8Array[] = [];
  const json = utf8(JSON.stringify(detach(body, attachments, 0)));
  if (json.length > MAX_JSON_BYTES) throw new ProtocolError('tooLarge', `the JSON part of ${type} is above ${MAX_JSON_BYTES} bytes`);
  if (attachments.length > MAX_ATTACHMENTS) throw new ProtocolError('tooLarge', `${type} has more than ${MAX_ATTACHMENTS} attachments`);
  const head = ENVELOPE_HEADER_LENGTH + 4 * attachments.length;
  const total = attachments.reduce((n, a) => n + a.length, head + json.length);
  if (total > MAX_MESSAGE_BYTES) throw new ProtocolError('tooLarge', `${type} is ${total} bytes, above the limit of ${MAX_MESSAGE_BYTES}`);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = MESSAGES[type].code;
  view.setUint16(2, attachments.length);
  view.setUint32(4, json.length);
  attachments.forEach((a, i) => view.setUint32(ENVELOPE_HEADER_LENGTH + 4 * i, a.length));
  out.set(json, head);
  let o = head + json.length;
  for (const a of attachments) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

/** The message type code of an envelope (its first byte), for the frame header. */
export const envelopeType = (envelope: Uint8Array): number => envelope[0] ?? 0;

/**
 * Reads and validates an envelope. Attachments are views into `envelope` (no copy); pass a
 * buffer nobody else will change, as the session does with freshly decrypted plaintext.
 */
export function decodeMessage(envelope: Uint8Array, from?: Role): Message {
  if (!(envelope instanceof Uint8Array) || envelope.length < ENVELOPE_HEADER_LENGTH) throw badMessage('an envelope is shorter than its header');
  const view = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  const type = messageTypeOf(envelope[0]!);
  if (!type) throw badMessage(`unknown message type code ${envelope[0]}`);
  if (envelope[1] !== 0) throw badMessage('the reserved envelope byte is not 0');
  const n = view.getUint16(2);
  const jsonLength = view.getUint32(4);
  if (n > MAX_ATTACHMENTS) throw badMessage(`more than ${MAX_ATTACHMENTS} attachments`);
  if (jsonLength > MAX_JSON_BYTES) throw badMessage(`a JSON part above ${MAX_JSON_BYTES} bytes`);
  const head = ENVELOPE_HEADER_LENGTH + 4 * n;
  if (envelope.length < head + jsonLength) throw badMessage('an envelope is shorter than its lengths say');
  let o = head + jsonLength;
  const attachments: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const length = view.getUint32(ENVELOPE_HEADER_LENGTH + 4 * i);
    if (length > envelope.length - o) throw badMessage('an envelope is shorter than its lengths say');
    attachments.push(envelope.subarray(o, o + length));
    o += length;
  }
  if (o !== envelope.length) throw badMessage('bytes after the last attachment');

  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(envelope.subarray(head, head + jsonLength)));
  } catch {
    throw badMessage(`the body of ${type} is not UTF-8 JSON`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw badMessage(`the body of ${type} is not a JSON object`);
  if (Object.hasOwn(json, 'type')) throw new ProtocolError('schema', `the body of ${type} must not name a type`);
  const next = { i: 0 };
  const body = attach(json, attachments, next, 0) as object;
  if (next.i !== n) throw badMessage('an attachment is not referenced');
  return validateMessage({ ...body, type }, from);
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Float32 values as little-endian bytes (a view, no copy, on little-endian platforms). */
export function packFloat32(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** Float64 values as little-endian bytes (a view, no copy, on little-endian platforms). */
export function packFloat64(values: Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return out;
}

function unpack<T extends Float32Array | Float64Array>(bytes: Uint8Array, width: 4 | 8, make: (b: ArrayBuffer, o: number, n: number) => T, alloc: (n: number) => T): T {
  if (bytes.length % width !== 0) throw new ProtocolError('schema', `${bytes.length} bytes are not whole float${width * 8} values`);
  const n = bytes.length / width;
  if (LITTLE_ENDIAN) {
    // a view when aligned, else one copy into a fresh buffer
    if (bytes.byteOffset % width === 0 && bytes.buffer instanceof ArrayBuffer) return make(bytes.buffer, bytes.byteOffset, n);
    return make(bytes.slice().buffer, 0, n);
  }
  const out = alloc(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = width === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
  return out;
}

export const unpackFloat32 = (bytes: Uint8Array): Float32Array =>
  unpack(bytes, 4, (b, o, n) => new Float32Array(b, o, n), (n) => new Float32Array(n));
export const unpackFloat64 = (bytes: Uint8Array): Float64Array =>
  unpack(bytes, 8, (b, o, n) => new Float64Array(b, o, n), (n) => new Float64Array(n));
