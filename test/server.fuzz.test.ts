/**
 * Fuzzing a LIVE `medclass serve` process (test/server_process.ts) over real WebSockets, with
 * fast-check generating the inputs:
 *
 * - before the handshake: random bytes, mutated, truncated and extended ClientHellos, text
 *   frames, a hello followed at once by more bytes, two hellos;
 * - after a real handshake (the frame layer of shared/protocol/frames.ts driven by hand, so any
 *   bytes can be sealed): random bytes, mutated and truncated sealed frames, replayed and
 *   reordered frames, text frames, frames whose length field is far too large, properly sealed
 *   envelopes that are malformed or whose body fails its schema, server-only message types,
 *   header/envelope type mismatches;
 * - long sessions of well-formed messages the server must refuse one by one (unauthenticated,
 *   bad tokens, unknown services, modes a service does not take, undecodable or mutated images,
 *   wrong sizes, admin requests not served, too many requests in flight) or answer;
 * - WebSocket messages above the server's payload limit.
 *
 * Every input must be answered by an `error` (or a normal answer), or end the session with a
 * documented close code (docs/protocol.md section 6; 1009 for a WebSocket message above the
 * server's limit), within a bounded time. The process must stay up with nothing alarming in its
 * log, and a well-behaved MedclassClient, logged in as admin, classifies real images all along
 * (a background canary) and at the end, each label checked against the model run in-process.
 *
 * FUZZ_SEED=<n> repeats a run; FUZZ_SCALE=<x> scales the number of inputs: 0.5 by default (about
 * 8,000 inputs, keeping `npm test` near ten minutes on two cores), FUZZ_SCALE=4 for a deep run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { classifyImages, type WireImage } from '../shared/classify/classify_images.ts';
import { parseServerAddress } from '../server/client/server_address.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { login } from './channel_login.ts';
import { useCpuBackend } from '../server/features/backend.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { parseModel, type LoadedModel } from '../shared/classify/model.ts';
import { MedclassClient } from '../shared/client/client.ts';
import { extractBatch, featureVector, prepareImage } from '../shared/features/extract.ts';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../shared/image/index.ts';
import { concat, utf8 } from '../shared/protocol/bytes.ts';
import { FRAME_HEADER_LENGTH, FrameOpener, FrameSealer, MAX_MESSAGE_BYTES, resolveLimits } from '../shared/protocol/frames.ts';
import { ClientHandshake, PROTOCOL_VERSION } from '../shared/protocol/handshake.ts';
import { parsePin, type Pin } from '../shared/protocol/identity.ts';
import {
  decodeMessage,
  encodeMessage,
  packFloat32,
  packFloat64,
  type ClassifyImage,
  type ClientMessage,
  type Message,
  type ServerMessage,
} from '../shared/protocol/messages.ts';
import { splitImages, type DatasetName } from './golden.ts';
import { breastModel } from './breast_model.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261128);
const SCALE = Number(process.env['FUZZ_SCALE'] ?? 0.5);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** How long the server may take to answer one input or close (it shares 2 cores with this test). */
const ANSWER_MS = 20_000;
/** The server's WebSocket payload limit (server/channel/limits.ts: 32 MiB). */
const SERVER_MAX_PAYLOAD = 32 * 2 ** 20;

const FRAME_CLOSE = [4010, 4011, 4012, 4013, 4014, 4015, 4016];
const MESSAGE_CLOSE = [4020, 4021];
const HANDSHAKE_CLOSE = [4001, 4002];
/** Request refusals the server may answer with (an `error` message, the session stays open). */
const REQUEST_ERRORS = new Set([
  'unauthenticated', 'badToken', 'forbidden', 'notImplemented', 'notFound', 'conflict', 'unknownService', 'modeNotAllowed', 'busy', 'rateLimited',
  'invalidSpec', 'badImage', 'corruptImage', 'unsupportedFormat', 'imageTooSmall', 'imageTooLarge', 'unreadableFile',
]);

// ---------------------------------------------------------------------------------------------
// The live server, its model, and what the well-behaved client sends

let server: ServerProcess;
let wsUrl: string;
let pin: Pin;
let token: string;
let model: LoadedModel;
let good: MedclassClient;
let dataDir: string;

interface Sample {
  file: string;
  png: Uint8Array;
  reduced: ClassifyImage;
  features: ClassifyImage;
  /** The model's label for it, computed in this process. */
  label: string;
}
let samples: Sample[] = [];
const pick = <T,>(list: readonly T[], i: number): T => list[((i % list.length) + list.length) % list.length]!;

function medclass(args: string[]): string {
  return execFileSync(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const testImages = (set: DatasetName, perLabel: number): string[] => splitImages(set, 'test', perLabel);

async function makeSample(file: string): Promise<Sample> {
  const png = new Uint8Array(readFileSync(file));
  const prepared = prepareImage(decodeImage(png), model.spec);
  const [values] = await extractBatch([prepared], model.spec);
  const vector = featureVector(values!, model.spec, prepared.height, prepared.width);
  const wire: WireImage = { mode: 'original', data: png };
  const [expected] = await classifyImages(model, [wire], DEFAULT_DECODE_LIMITS);
  if (!expected?.ok) throw new Error(`the model cannot classify ${file}`);
  return {
    file,
    png,
    reduced: { mode: 'reduced', data: { width: prepared.width, height: prepared.height, pixels: packFloat32(prepared.data.slice()) } },
    features: { mode: 'features', data: { vector: packFloat64(vector) } },
    label: expected.label,
  };
}

// ---------------------------------------------------------------------------------------------
// Outcomes, tallied by kind of input for the report

const tally = new Map<string, Map<string, number>>();
function record(kind: string, outcome: string): void {
  const m = tally.get(kind) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  tally.set(kind, m);
}
/** Inputs sent: one per connection for the cases that end a session, one per message in the long sessions. */
const inputs = new Map<string, number>();
const countInput = (kind: string) => inputs.set(kind, (inputs.get(kind) ?? 0) + 1);
const totalInputs = () => [...inputs.values()].reduce((a, b) => a + b, 0);

function hex(b: Uint8Array, max = 160): string {
  return Buffer.from(b.subarray(0, max)).toString('hex') + (b.length > max ? `...(${b.length} bytes)` : '');
}
function describeCase(c: unknown): string {
  return JSON.stringify(c, (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${hex(v)}` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)).slice(0, 3000);
}

class CaseFailure extends Error {}
function failCase(c: unknown, what: string): never {
  throw new CaseFailure(`${what}\n  input: ${describeCase(c)}`);
}

function assertServerHealthy(): void {
  const out = server.output();
  expect(server.child.exitCode, `the server exited:\n${out.slice(-4000)}`).toBeNull();
  expect(out).not.toMatch(/unhandledRejection|uncaughtException|triggerUncaughtException|Node\.js v\d/);
  // level 50 is `request failed` (an internal error), 60 fatal
  expect(out.split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(0, 5)).toEqual([]);
}

/** Runs a batch of cases at once per fast-check run; a case's failure names its input. */
async function fuzz<T>(arbitrary: fc.Arbitrary<T>, numRuns: number, parallel: number, run: (c: T) => Promise<void>, seedOffset: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(arbitrary, { minLength: parallel, maxLength: parallel }), async (batch) => {
      const settled = await Promise.allSettled(batch.map(run));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      assertServerHealthy();
    }),
    {
      numRuns,
      seed: SEED + seedOffset,
      endOnFailure: true,
      // the batch itself is too long to print: the failing case names its own input
      reporter: (out) => {
        if (!out.failed) return;
        const reason = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
        throw new Error(`fuzz failed (seed ${out.seed}, path ${out.counterexamplePath}; rerun with FUZZ_SEED=${SEED}): ${reason}`);
      },
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket connections, and the channel driven by hand

interface Closed {
  code: number;
  reason: string;
}

class Raw {
  private readonly inbox: { data: Buffer; binary: boolean }[] = [];
  private wake: (() => void) | null = null;
  closed: Closed | null = null;
  readonly done: Promise<Closed>;

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, binary) => {
      this.inbox.push({ data, binary });
      this.wake?.();
    });
    ws.on('error', () => {});
    this.done = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        this.wake?.();
        resolve(this.closed);
      }),
    );
  }

  static open(): Promise<Raw> {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false, maxPayload: 256 * 2 ** 20 });
    const raw = new Raw(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(raw));
      ws.once('error', reject);
    });
  }

  send(data: Uint8Array | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary: typeof data !== 'string' }, () => {});
  }

  /** The next message (text as a marker), null once the socket closed; throws after `ms`. */
  async next(ms = ANSWER_MS): Promise<{ data: Buffer; binary: boolean } | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.inbox.shift();
      if (m) return m;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer and no close within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async end(): Promise<void> {
    if (this.closed) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 5_000);
    await this.done;
    clearTimeout(timer);
  }
}

const LIMITS = resolveLimits();
/** Valid frames of earlier sessions. */
const foreignFrames: Uint8Array[] = [];

/** A finished handshake with the live server, and the frame layer for both directions. */
class Channel {
  private constructor(
    readonly raw: Raw,
    readonly sealer: FrameSealer,
    readonly opener: FrameOpener,
  ) {}

  static async open(): Promise<Channel> {
    const raw = await Raw.open();
    const handshake = await ClientHandshake.start([pin]);
    raw.send(handshake.hello);
    const reply = await raw.next();
    if (!reply) throw new Error(`the server closed during a valid handshake: ${JSON.stringify(raw.closed)}`);
    const keys = await handshake.finish(new Uint8Array(reply.data));
    const sealer = await FrameSealer.create(keys.sessionId, 'c2s', keys.sendSecret, LIMITS);
    const opener = await FrameOpener.create(keys.sessionId, 's2c', keys.receiveSecret, LIMITS);
    return new Channel(raw, sealer, opener);
  }

  seal(envelope: Uint8Array, type = envelope[0]!): Promise<Uint8Array> {
    return this.sealer.seal(type, envelope);
  }

  async sendMessage(m: ClientMessage): Promise<Uint8Array> {
    const frame = await this.seal(encodeMessage(m, 'client'));
    this.raw.send(frame);
    // kept for replays into other sessions
    if (foreignFrames.length < 256) foreignFrames.push(frame);
    else foreignFrames[frame[9]! % 256] = frame;
    return frame;
  }

  /** The server's next message, or how the session closed. */
  async receive(ms = ANSWER_MS): Promise<ServerMessage | Closed> {
    const m = await this.raw.next(ms);
    if (!m) return this.raw.closed!;
    if (!m.binary) throw new Error('the server sent a text frame');
    const opened = await this.opener.open(new Uint8Array(m.data));
    return decodeMessage(opened.plaintext, 'server') as ServerMessage;
  }
}

const isClosed = (m: ServerMessage | Closed): m is Closed => 'code' in m && typeof (m as Closed).code === 'number' && !('type' in m);

// ---------------------------------------------------------------------------------------------
// Byte and JSON mutations

type Edit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'cut'; at: number }
  | { op: 'drop'; at: number; len: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'u32'; at: number; value: number }
  | { op: 'swap'; at: number; to: number };

/** Positions: anywhere, or biased to the first bytes, where the headers are. */
const position = fc.oneof(fc.integer({ min: 0, max: 23 }), fc.nat({ max: 1_000_000 }));
const u32Values = fc.oneof(fc.constantFrom(0, 1, 15, 16, 17, 19, 20, 0x7fffffff, 0xffffffff, 2 ** 26, MAX_MESSAGE_BYTES + 17, -1, -20, -19), fc.nat({ max: 0xffffffff }));
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('cut' as const), at: position }),
  fc.record({ op: fc.constant('drop' as const), at: position, len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ op: fc.constant('u32' as const), at: position, value: u32Values }),
  fc.record({ op: fc.constant('swap' as const), at: position, to: position }),
);
const editsArb = fc.array(editArb, { minLength: 1, maxLength: 4 });

function applyEdit(b: Uint8Array, e: Edit): Uint8Array {
  const n = b.length;
  const at = n ? e.at % n : 0;
  switch (e.op) {
    case 'flip':
      if (n) b[at]! ^= 1 << e.bit;
      return b;
    case 'set':
      if (n) b[at] = e.value;
      return b;
    case 'cut':
      return b.slice(0, at);
    case 'drop':
      return concat(b.subarray(0, at), b.subarray(at + e.len));
    case 'insert':
      return concat(b.subarray(0, at), e.bytes, b.subarray(at));
    case 'u32':
      // negative values are relative to the length (the length fields' near misses)
      if (n >= 4) new DataView(b.buffer, b.byteOffset).setUint32(Math.min(at, n - 4), e.value < 0 ? Math.max(0, n + e.value) : e.value);
      return b;
    case 'swap': {
      const j = n ? e.to % n : 0;
      if (n) [b[at], b[j]] = [b[j]!, b[at]!];
      return b;
    }
  }
}
const applyEdits = (input: Uint8Array, edits: readonly Edit[]): Uint8Array => edits.reduce<Uint8Array>((b, e) => applyEdit(b, e), input.slice());
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** An envelope written by hand: any body, any attachments, no validation. */
function envelope(code: number, body: string | Uint8Array, attachments: readonly Uint8Array[] = [], reserved = 0): Uint8Array {
  const json = typeof body === 'string' ? utf8(body) : body;
  const head = 8 + 4 * attachments.length;
  const out = new Uint8Array(head + json.length + attachments.reduce((n, a) => n + a.length, 0));
  const view = new DataView(out.buffer);
  out[0] = code;
  out[1] = reserved;
  view.setUint16(2, attachments.length);
  view.setUint32(4, json.length);
  attachments.forEach((a, i) => view.setUint32(8 + 4 * i, a.length));
  out.set(json, head);
  let o = head + json.length;
  for (const a of attachments) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

/** A message's JSON with `{"$bin": i}` for each Uint8Array (no checks: the caller may break it). */
function detach(value: unknown, attachments: Uint8Array[]): Json {
  if (value instanceof Uint8Array) {
    attachments.push(value);
    return { $bin: attachments.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => detach(v, attachments));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, detach(v, attachments)]));
  return value as Json;
}

type JsonEdit = { op: 'delete' | 'replace' | 'add'; at: number; key: string; value: Json };
const jsonEditArb: fc.Arbitrary<JsonEdit> = fc.record({
  op: fc.constantFrom('delete' as const, 'replace' as const, 'add' as const),
  at: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('$bin', 'type', 'mode', 'data', 'width', 'pixels', 'images', 'token', 'requestId')),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    fc.constantFrom<Json>({ $bin: 0 }, { $bin: 1 }, { $bin: -1 }, { $bin: '0' }, [], {}, '', 1e308, -1, 2 ** 53, 0.5, 'x'.repeat(5000)),
  ),
});

function editJson(root: Json, e: JsonEdit): Json {
  const copy = structuredClone(root);
  const slots: { parent: Json[] | { [k: string]: Json }; key: string | number }[] = [];
  const objects: { [k: string]: Json }[] = [];
  const walk = (v: Json) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        slots.push({ parent: v, key: i });
        walk(x);
      });
    } else if (v !== null && typeof v === 'object') {
      objects.push(v);
      for (const k of Object.keys(v)) {
        slots.push({ parent: v, key: k });
        walk(v[k]!);
      }
    }
  };
  walk(copy);
  if (e.op === 'add' || slots.length === 0) {
    const target = objects[e.at % Math.max(1, objects.length)];
    if (target) Object.defineProperty(target, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
    return copy;
  }
  const slot = slots[e.at % slots.length]!;
  if (e.op === 'replace') (slot.parent as Record<string | number, Json>)[slot.key] = e.value;
  else if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
  else delete slot.parent[slot.key as string];
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Well-formed requests (the server answers each; the session stays open)

const imageName = fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: undefined });
/** Deterministic filler: `n` values from a seed, in [-scale, scale]. */
function filler(n: number, seed: number, scale: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (((s >>> 0) / 0xffffffff) * 2 - 1) * scale;
  }
  return out;
}
type ImageSpec =
  | { kind: 'png'; sample: number; name?: string | undefined }
  | { kind: 'mutatedPng'; sample: number; edits: Edit[] }
  | { kind: 'truncatedPng'; sample: number; at: number }
  | { kind: 'randomBytes'; bytes: Uint8Array }
  | { kind: 'reduced'; seed: number; scale: number; name?: string | undefined }
  | { kind: 'reducedSample'; sample: number }
  | { kind: 'reducedOtherSize'; width: number; height: number; seed: number }
  | { kind: 'features'; seed: number; scale: number }
  | { kind: 'featuresSample'; sample: number }
  | { kind: 'featuresOtherLength'; length: number; seed: number };

const imageSpecArb: fc.Arbitrary<ImageSpec> = fc.oneof(
  fc.record({ kind: fc.constant('png' as const), sample: fc.nat(), name: imageName }),
  { arbitrary: fc.record({ kind: fc.constant('mutatedPng' as const), sample: fc.nat(), edits: editsArb }), weight: 3 },
  fc.record({ kind: fc.constant('truncatedPng' as const), sample: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('randomBytes' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) }),
  fc.record({ kind: fc.constant('reduced' as const), seed: fc.integer(), scale: fc.constantFrom(0, 1, 255, 1e3, 1e6), name: imageName }),
  fc.record({ kind: fc.constant('reducedSample' as const), sample: fc.nat() }),
  fc.record({ kind: fc.constant('reducedOtherSize' as const), width: fc.integer({ min: 1, max: 64 }), height: fc.integer({ min: 1, max: 64 }), seed: fc.integer() }),
  fc.record({ kind: fc.constant('features' as const), seed: fc.integer(), scale: fc.constantFrom(0, 1, 1e3, 1e50, 1e100) }),
  fc.record({ kind: fc.constant('featuresSample' as const), sample: fc.nat() }),
  fc.record({ kind: fc.constant('featuresOtherLength' as const), length: fc.integer({ min: 1, max: 400 }), seed: fc.integer() }),
);

function image(spec: ImageSpec): ClassifyImage {
  switch (spec.kind) {
    case 'png':
      return { mode: 'original', data: pick(samples, spec.sample).png, ...(spec.name !== undefined ? { name: spec.name } : {}) };
    case 'mutatedPng': {
      const data = applyEdits(pick(samples, spec.sample).png, spec.edits);
      return { mode: 'original', data: data.length ? data : Uint8Array.of(0x89) };
    }
    case 'truncatedPng': {
      const png = pick(samples, spec.sample).png;
      return { mode: 'original', data: png.slice(0, 1 + (spec.at % (png.length - 1))) };
    }
    case 'randomBytes':
      return { mode: 'original', data: spec.bytes };
    case 'reduced': {
      const size = model.imageSize!;
      const px = Float32Array.from(filler(size.width * size.height, spec.seed, spec.scale));
      return { mode: 'reduced', data: { width: size.width, height: size.height, pixels: packFloat32(px) }, ...(spec.name !== undefined ? { name: spec.name } : {}) };
    }
    case 'reducedSample':
      return pick(samples, spec.sample).reduced;
    case 'reducedOtherSize':
      return { mode: 'reduced', data: { width: spec.width, height: spec.height, pixels: packFloat32(Float32Array.from(filler(spec.width * spec.height, spec.seed, 1))) } };
    case 'features':
      return { mode: 'features', data: { vector: packFloat64(filler(model.featureLength, spec.seed, spec.scale)) } };
    case 'featuresSample':
      return pick(samples, spec.sample).features;
    case 'featuresOtherLength':
      return { mode: 'features', data: { vector: packFloat64(filler(spec.length, spec.seed, 1)) } };
  }
}

const idArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const serviceArb = fc.oneof(fc.constantFrom('demo', 'demo', 'demo', 'restricted'), fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/));
const fullSpec = { features: ['hog', 'glcmEnergy'], size: 64, levels: 32, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 };

type Step =
  | { t: 'login' }
  | { t: 'badToken'; token: string }
  | { t: 'listServices' }
  | { t: 'classify'; service: string; images: ImageSpec[] }
  | { t: 'burst'; n: number; sample: number }
  | { t: 'admin'; which: 'uploadStart' | 'uploadChunk' | 'uploadEnd' | 'train' | 'publish' | 'rollback'; id: string; service: string; version: number; data: Uint8Array };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant({ t: 'login' as const }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('badToken' as const), token: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }) }), weight: 1 },
  { arbitrary: fc.constant({ t: 'listServices' as const }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('classify' as const), service: serviceArb, images: fc.array(imageSpecArb, { minLength: 1, maxLength: 4 }) }), weight: 12 },
  { arbitrary: fc.record({ t: fc.constant('burst' as const), n: fc.integer({ min: 9, max: 16 }), sample: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      t: fc.constant('admin' as const),
      which: fc.constantFrom('uploadStart' as const, 'uploadChunk' as const, 'uploadEnd' as const, 'train' as const, 'publish' as const, 'rollback' as const),
      id: idArb,
      service: fc.oneof(fc.constant('nosuchservice'), fc.stringMatching(/^x[A-Za-z0-9._-]{1,20}$/)),
      version: fc.integer({ min: 1, max: 2 ** 31 }),
      data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
    weight: 2,
  },
);

function adminMessage(s: Extract<Step, { t: 'admin' }>, requestId: string): ClientMessage {
  // ids by kind: no chunk, end, train or publish ever names a real upload or job, so each is refused
  // (and answered: an accepted chunk is not), and no training starts
  const id = (prefix: string) => `${prefix}-${s.id.slice(0, 60)}`;
  switch (s.which) {
    case 'uploadStart':
      return { type: 'uploadStart', requestId, uploadId: id('s'), name: 'set', totalBytes: 10, files: 1 };
    case 'uploadChunk':
      return { type: 'uploadChunk', uploadId: id('c'), seq: 0, data: s.data };
    case 'uploadEnd':
      return { type: 'uploadEnd', requestId, uploadId: id('e') };
    case 'train':
      return { type: 'train', requestId, uploadId: id('t'), spec: fullSpec as never, classifier: { kind: 'svm' } };
    case 'publish':
      return { type: 'publish', requestId, jobId: id('p'), service: s.service, description: '', privacyModes: ['reduced'] };
    case 'rollback':
      // services the fuzz may not disturb are never named here (an `x` prefix or nosuchservice)
      return { type: 'rollback', requestId, service: s.service, version: s.version };
  }
}

interface Expectation {
  label: string;
  /** The step, for the failure report. */
  step: Step;
  /** classify: the kind of each image (one answer each, or one request-level error); empty otherwise. */
  kinds: string[];
  answered: Set<number>;
  done: () => void;
  promise: Promise<void>;
}

/**
 * One long session of well-formed messages, sent with a few in flight; every message must be
 * answered (classify: one answer per image, or one request-level error), nothing more.
 */
async function runSession(steps: Step[]): Promise<void> {
  const ch = await Channel.open();
  const byId = new Map<string, Expectation>();
  const noId: Expectation[] = [];
  let problem: string | null = null;
  let seq = 0;
  const fault = (e: Expectation | null, what: string) => {
    problem ??= `${what}${e ? `\n  input: ${describeCase(e.step)}` : ''}`;
  };
  const onError = (e: Expectation, code: string, message: string, kind: string) => {
    if (!REQUEST_ERRORS.has(code)) fault(e, `${e.label}: unexpected error code ${code} (${message})`);
    if (!message) fault(e, `${e.label}: an error without a message`);
    if (message.includes(token)) fault(e, `${e.label}: an error message echoes the login token`);
    record(kind, `error ${code}`);
  };
  const finish = (id: string | null, e: Expectation) => {
    if (id) byId.delete(id);
    e.done();
  };
  const reader = (async () => {
    for (;;) {
      const m = await ch.receive(10 * 60_000).catch((e: unknown) => ({ code: -1, reason: `unreadable answer: ${(e as Error).message}` }));
      if (isClosed(m)) {
        if (m.code !== 1000 && m.code !== 1005) fault(null, `the session closed with ${m.code} (${m.reason})`);
        for (const e of [...byId.values(), ...noId]) e.done();
        return;
      }
      const requestId = 'requestId' in m ? m.requestId : undefined;
      const e = requestId === undefined ? noId.shift() : byId.get(requestId);
      if (!e) {
        fault(null, `an answer nobody asked for (or a second one): ${m.type} ${requestId ?? ''}`);
        continue;
      }
      if (e.kinds.length === 0 || (m.type === 'error' && m.index === undefined)) {
        // one answer: the reply, or a refusal of the whole request
        if (m.type === 'error') onError(e, m.code, m.message, `session.${e.label}`);
        else record(`session.${e.label}`, m.type);
        finish(requestId ?? null, e);
        continue;
      }
      const index = m.type === 'result' || m.type === 'error' ? m.index : undefined;
      if (index === undefined || index >= e.kinds.length || e.answered.has(index)) {
        fault(e, `${e.label} ${requestId}: a bad or repeated answer index ${index} (${m.type})`);
        continue;
      }
      e.answered.add(index);
      const kind = `session.classify.image.${e.kinds[index]}`;
      if (m.type === 'error') onError(e, m.code, m.message, kind);
      else if (m.type === 'result') {
        if (!model.labels.includes(m.label)) fault(e, `a result with an unknown label ${m.label}`);
        record(kind, 'result');
      } else fault(e, `a ${m.type} answer to classify`);
      if (e.answered.size === e.kinds.length) finish(requestId!, e);
    }
  })();

  const inFlight = new Set<Promise<void>>();
  const WINDOW = 6;
  const send = async (label: string, step: Step, m: ClientMessage, kinds: string[] = []) => {
    let done!: () => void;
    const promise = new Promise<void>((r) => (done = r));
    const e: Expectation = { label, step, kinds, answered: new Set(), done, promise };
    const requestId = 'requestId' in m ? m.requestId : null;
    if (requestId) byId.set(requestId, e);
    else noId.push(e);
    inFlight.add(promise);
    void promise.then(() => inFlight.delete(promise));
    countInput(`session.${label}`);
    await ch.sendMessage(m);
  };
  try {
    for (const s of steps) {
      while (inFlight.size >= WINDOW) await Promise.race(inFlight);
      if (problem) break;
      const requestId = `q${seq++}`;
      switch (s.t) {
        case 'login':
          await send('resume', s, { type: 'resume', requestId, token });
          break;
        case 'badToken':
          await send('badToken', s, { type: 'resume', requestId, token: s.token });
          break;
        case 'listServices':
          await send('listServices', s, { type: 'listServices' });
          break;
        case 'classify':
          await send(s.service === 'demo' || s.service === 'restricted' ? `classify.${s.service}` : 'classify.otherService', s, { type: 'classify', requestId, service: s.service, images: s.images.map(image) }, s.images.map((i) => i.kind));
          break;
        case 'burst':
          for (let i = 0; i < s.n; i++) {
            await send('burst', s, { type: 'classify', requestId: `${requestId}b${i}`, service: 'demo', images: [pick(samples, s.sample + i).features] }, ['burst']);
          }
          break;
        case 'admin':
          await send(`admin.${s.which}`, s, adminMessage(s, requestId));
          break;
      }
    }
    const all = Promise.all([...byId.values(), ...noId].map((e) => e.promise));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ANSWER_MS).unref());
    if ((await Promise.race([all, timeout])) === 'timeout') {
      const left = [...byId.values(), ...noId];
      fault(left[0] ?? null, `no answer within ${ANSWER_MS} ms to ${left.length} requests: ${left.slice(0, 6).map((e) => `${e.label} (${e.answered.size}/${e.kinds.length || 1})`).join(', ')}`);
    }
  } finally {
    await ch.raw.end();
    await reader;
  }
  if (problem) throw new CaseFailure(problem);
}

// ---------------------------------------------------------------------------------------------
// Cases that end the session

type PreCase =
  | { kind: 'pre.random'; bytes: Uint8Array }
  | { kind: 'pre.mutatedHello'; edits: Edit[] }
  | { kind: 'pre.truncatedHello'; at: number }
  | { kind: 'pre.extendedHello'; extra: Uint8Array }
  | { kind: 'pre.text'; text: string }
  | { kind: 'pre.helloThenBytes'; bytes: Uint8Array }
  | { kind: 'pre.twoHellos' }
  | { kind: 'pre.serverHello'; bytes: Uint8Array };

const preCaseArb: fc.Arbitrary<PreCase> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('pre.random' as const), bytes: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 99, maxLength: 99 })) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('pre.mutatedHello' as const), edits: editsArb }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('pre.truncatedHello' as const), at: fc.integer({ min: 0, max: 98 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('pre.extendedHello' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 200 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('pre.text' as const), text: fc.string({ unit: 'binary', maxLength: 200 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('pre.helloThenBytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'pre.twoHellos' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('pre.serverHello' as const), bytes: fc.uint8Array({ minLength: 195, maxLength: 195 }).map((b) => ((b[0] = 2), (b[1] = PROTOCOL_VERSION), b)) }), weight: 1 },
);

async function runPre(c: PreCase): Promise<void> {
  const raw = await Raw.open();
  const hello = (await ClientHandshake.start([pin])).hello;
  let allowed = HANDSHAKE_CLOSE;
  let input: Uint8Array | string;
  switch (c.kind) {
    case 'pre.random':
    case 'pre.serverHello':
      input = c.bytes;
      break;
    case 'pre.mutatedHello':
      input = applyEdits(hello, c.edits);
      break;
    case 'pre.truncatedHello':
      input = hello.slice(0, c.at);
      break;
    case 'pre.extendedHello':
      input = concat(hello, c.extra);
      break;
    case 'pre.text':
      input = c.text;
      allowed = [4010];
      break;
    case 'pre.helloThenBytes':
    case 'pre.twoHellos':
      input = hello;
      // the second message comes before the handshake is done (4001), or is a bad frame after it
      allowed = [...HANDSHAKE_CLOSE, ...FRAME_CLOSE];
      break;
  }
  raw.send(input);
  countInput(c.kind);
  if (c.kind === 'pre.helloThenBytes') raw.send(c.bytes);
  if (c.kind === 'pre.twoHellos') raw.send(hello);
  let first: Awaited<ReturnType<Raw['next']>>;
  try {
    first = await raw.next();
  } catch (e) {
    failCase(c, (e as Error).message);
  }
  if (first) {
    // a ServerHello: only for a hello that is still well-formed (a mutation of the nonce, say)
    const ok = first.binary && first.data.length === 195 && first.data[0] === 2;
    if (!ok) failCase(c, `an unexpected answer of ${first.data.length} bytes`);
    if (c.kind === 'pre.helloThenBytes' || c.kind === 'pre.twoHellos') {
      let after: Awaited<ReturnType<Raw['next']>>;
      try {
        after = await raw.next();
      } catch (e) {
        failCase(c, `after the ServerHello: ${(e as Error).message}`);
      }
      if (after) failCase(c, `a second answer of ${after.data.length} bytes`);
      if (!allowed.includes(raw.closed!.code)) failCase(c, `closed with ${raw.closed!.code} (${raw.closed!.reason}); expected ${allowed.join(', ')}`);
      record(c.kind, `ServerHello, then close ${raw.closed!.code}`);
    } else {
      if (typeof input === 'string' || input.length !== 99 || input[0] !== 1 || input[1] !== PROTOCOL_VERSION) failCase(c, 'a ServerHello for a malformed hello');
      record(c.kind, 'ServerHello (well-formed after the edit)');
      await raw.end();
    }
    return;
  }
  const closed = raw.closed!;
  if (!allowed.includes(closed.code)) failCase(c, `closed with ${closed.code} (${closed.reason}); expected ${allowed.join(', ')}`);
  record(c.kind, `close ${closed.code}`);
}

/** Frames the fuzz starts from: a valid message of each kind. */
function baseMessage(i: number): ClientMessage {
  const s = pick(samples, i);
  const all: ClientMessage[] = [
    { type: 'listServices' },
    { type: 'resume', requestId: 'base0', token },
    { type: 'classify', requestId: 'base1', service: 'demo', images: [s.reduced] },
    { type: 'classify', requestId: 'base2', service: 'demo', images: [{ mode: 'original', data: s.png, name: 'a.png' }, s.features] },
    { type: 'rollback', requestId: 'base3', service: 'nosuchservice', version: 1 },
    { type: 'uploadChunk', uploadId: 'u1', seq: 0, data: Uint8Array.of(1, 2, 3) },
  ];
  return pick(all, i);
}

type PostCase = { prefix: number; wait: boolean; base: number } & (
  | { kind: 'post.random'; bytes: Uint8Array }
  | { kind: 'post.mutatedFrame'; edits: Edit[] }
  | { kind: 'post.truncatedFrame'; at: number }
  | { kind: 'post.replay' }
  | { kind: 'post.otherSession'; which: number }
  | { kind: 'post.reorder'; skip: number }
  | { kind: 'post.text'; text: string }
  | { kind: 'post.hugeLength'; length: number }
  | { kind: 'post.hello' }
  | { kind: 'post.mutatedEnvelope'; edits: Edit[] }
  | { kind: 'post.mutatedBody'; edits: JsonEdit[] }
  | { kind: 'post.randomBody'; code: number; body: Json; attachments: Uint8Array[] }
  | { kind: 'post.rawJson'; code: number; text: string }
  | { kind: 'post.serverType'; which: number }
  | { kind: 'post.typeMismatch'; type: number }
  | { kind: 'post.envelopeHeader'; reserved: number; count: number; jsonLength: number }
);

const postKindArb = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('post.random' as const), bytes: fc.uint8Array({ maxLength: 300 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('post.mutatedFrame' as const), edits: editsArb }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('post.truncatedFrame' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'post.replay' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('post.otherSession' as const), which: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('post.reorder' as const), skip: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('post.text' as const), text: fc.string({ maxLength: 100 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('post.hugeLength' as const), length: fc.integer({ min: MAX_MESSAGE_BYTES + 17, max: 0xffffffff }) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'post.hello' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('post.mutatedEnvelope' as const), edits: editsArb }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('post.mutatedBody' as const), edits: fc.array(jsonEditArb, { minLength: 1, maxLength: 3 }) }), weight: 5 },
  {
    arbitrary: fc.record({
      kind: fc.constant('post.randomBody' as const),
      code: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 127 })),
      body: fc.oneof(fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>, fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, { maxKeys: 6 })),
      attachments: fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 3 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('post.rawJson' as const),
      code: fc.integer({ min: 1, max: 16 }),
      text: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom(
          '{"__proto__":{"token":"x"}}',
          '{"token":"a","token":"b"}',
          '{"$bin":0}',
          `{"token":${'['.repeat(40)}${']'.repeat(40)}}`,
          `{"token":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
          `{"token":"${'\\u0000'.repeat(1000)}"}`,
          '{"token":"\ud800"}',
          `{"x":"${'y'.repeat(2 ** 20)}"}`,
          '{',
          '',
          'null',
          '[]',
        ),
      ),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('post.serverType' as const), which: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('post.typeMismatch' as const), type: fc.integer({ min: 1, max: 127 }) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('post.envelopeHeader' as const),
      reserved: fc.integer({ min: 0, max: 255 }),
      count: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 65535 })),
      jsonLength: u32Values,
    }),
    weight: 1,
  },
);

const postCaseArb: fc.Arbitrary<PostCase> = fc
  .tuple(fc.record({ prefix: fc.integer({ min: 0, max: 3 }), wait: fc.boolean(), base: fc.nat() }), postKindArb)
  .map(([p, k]) => ({ ...p, ...k }) as PostCase);

const serverMessages = (): Message[] => [
  { type: 'loggedIn', requestId: 'l', user: 'admin', role: 'admin', token: 't', expiresAt: 1 },
  { type: 'services', services: [] },
  { type: 'result', requestId: 'r', index: 0, label: 'a', scores: { a: 1 }, modelVersion: 1, timings: { decryptMs: 0, decodeMs: 0, extractMs: 0, classifyMs: 0 } },
  { type: 'error', code: 'x', message: 'y' },
  { type: 'trainProgress', jobId: 'j', phase: 'p', done: 0, total: 1 },
  { type: 'trainDone', jobId: 'j', report: {} },
  { type: 'ok', requestId: 'r' },
];

async function runPost(c: PostCase): Promise<void> {
  const ch = await Channel.open();
  try {
    // a few valid frames first, answered (or still in flight when the attack comes)
    const sent: Uint8Array[] = [];
    for (let i = 0; i < c.prefix; i++) {
      sent.push(await ch.sendMessage(i % 2 ? { type: 'listServices' } : { type: 'resume', requestId: `p${i}`, token }));
      if (c.wait) {
        const m = await ch.receive();
        if (isClosed(m)) failCase(c, `a valid prefix frame closed the session (${m.code} ${m.reason})`);
      }
    }
    const base = baseMessage(c.base);
    const baseEnvelope = encodeMessage(base, 'client');
    let input: Uint8Array | string;
    let allowed: number[];
    /** true when the input may be accepted as a normal message. */
    let mayBeValid = false;
    switch (c.kind) {
      case 'post.random':
        input = c.bytes;
        allowed = FRAME_CLOSE;
        break;
      case 'post.mutatedFrame': {
        const frame = await ch.seal(baseEnvelope);
        input = applyEdits(frame, c.edits);
        mayBeValid = sameBytes(input, frame);
        allowed = FRAME_CLOSE;
        break;
      }
      case 'post.truncatedFrame': {
        const frame = await ch.seal(baseEnvelope);
        input = frame.slice(0, c.at % frame.length);
        allowed = [4011];
        break;
      }
      case 'post.replay': {
        if (!sent.length) {
          sent.push(await ch.sendMessage({ type: 'listServices' }));
          const m = await ch.receive();
          if (isClosed(m)) failCase(c, 'a valid frame closed the session');
        }
        input = sent[sent.length - 1]!;
        allowed = [4012];
        break;
      }
      case 'post.otherSession': {
        // a valid frame of another session: its counter decides replay, reorder or (the same counter) tampered
        const foreign = foreignFrames.length ? pick(foreignFrames.filter((f) => !sent.includes(f)), c.which) : undefined;
        input = foreign ?? (await ch.seal(baseEnvelope));
        const counter = Number(new DataView(input.buffer, input.byteOffset).getBigUint64(8));
        allowed = !foreign ? [] : counter === sent.length ? [4014] : counter < sent.length ? [4012] : [4013];
        if (!foreign) {
          // none yet: send this session's own next frame, which is answered
          mayBeValid = true;
          allowed = [4014];
        }
        break;
      }
      case 'post.reorder': {
        const frames: Uint8Array[] = [];
        for (let i = 0; i <= c.skip; i++) frames.push(await ch.seal(baseEnvelope));
        input = frames[c.skip]!;
        allowed = [4013];
        break;
      }
      case 'post.text':
        input = c.text;
        allowed = [4010];
        break;
      case 'post.hugeLength': {
        const frame = await ch.seal(baseEnvelope);
        new DataView(frame.buffer, frame.byteOffset).setUint32(16, c.length);
        input = frame;
        allowed = [4016];
        break;
      }
      case 'post.hello':
        input = (await ClientHandshake.start([pin])).hello;
        allowed = [4010];
        break;
      case 'post.mutatedEnvelope': {
        const mutated = applyEdits(baseEnvelope, c.edits);
        const type = mutated[0]! >= 1 && mutated[0]! <= 127 ? mutated[0]! : baseEnvelope[0]!;
        input = await ch.seal(mutated, type);
        mayBeValid = true;
        allowed = MESSAGE_CLOSE;
        break;
      }
      case 'post.mutatedBody': {
        const attachments: Uint8Array[] = [];
        const { type: _t, ...body } = base;
        const json = c.edits.reduce((j, e) => editJson(j, e), detach(body, attachments));
        input = await ch.seal(envelope(baseEnvelope[0]!, JSON.stringify(json), attachments));
        mayBeValid = true;
        allowed = MESSAGE_CLOSE;
        break;
      }
      case 'post.randomBody':
        input = await ch.seal(envelope(c.code, JSON.stringify(c.body) ?? 'null', c.attachments));
        mayBeValid = true;
        allowed = MESSAGE_CLOSE;
        break;
      case 'post.rawJson':
        input = await ch.seal(envelope(c.code, c.text));
        mayBeValid = true;
        allowed = MESSAGE_CLOSE;
        break;
      case 'post.serverType':
        input = await ch.seal(encodeMessage(pick(serverMessages(), c.which)));
        allowed = [4021];
        break;
      case 'post.typeMismatch': {
        const type = c.type === baseEnvelope[0] ? (c.type % 127) + 1 : c.type;
        input = await ch.seal(baseEnvelope, type);
        allowed = [4020];
        break;
      }
      case 'post.envelopeHeader': {
        const e = baseEnvelope.slice();
        const view = new DataView(e.buffer);
        e[1] = c.reserved;
        view.setUint16(2, c.count);
        view.setUint32(4, c.jsonLength < 0 ? Math.max(0, e.length + c.jsonLength) : c.jsonLength);
        mayBeValid = sameBytes(e, baseEnvelope);
        input = await ch.seal(e);
        allowed = MESSAGE_CLOSE;
        break;
      }
    }
    ch.raw.send(input);
    countInput(c.kind);
    const { closed, answers } = await readUntilClose(ch, c, allowed, mayBeValid);
    record(c.kind, closed ? `close ${closed.code}` : `answered (${answers})`);
  } finally {
    await ch.raw.end();
  }
}

/** Reads answers until the server closes; an input that is still valid may be answered instead. */
async function readUntilClose(ch: Channel, c: PostCase, allowed: number[], mayBeValid: boolean): Promise<{ closed: Closed | null; answers: number }> {
  // answers to prefix frames still in flight may come first
  const prefixAnswers = c.wait ? 0 : c.prefix;
  let answers = 0;
  for (;;) {
    let m: ServerMessage | Closed;
    try {
      m = await ch.receive();
    } catch (e) {
      failCase(c, `no answer and no close: ${(e as Error).message}`);
    }
    if (isClosed(m)) {
      if (!allowed.includes(m.code)) failCase(c, `closed with ${m.code} (${m.reason}); expected one of ${allowed.join(', ')}`);
      return { closed: m, answers };
    }
    if (m.type === 'error' && !REQUEST_ERRORS.has(m.code)) failCase(c, `an error with an unexpected code ${m.code}: ${m.message}`);
    answers++;
    if (answers > prefixAnswers) {
      if (!mayBeValid) failCase(c, `answered ${m.type} to an input that should have closed the session`);
      // the input was still a valid message, and it was answered: enough
      return { closed: null, answers };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The well-behaved client, all along

const canary = { runs: 0, failures: [] as string[], latencies: [] as number[], stop: false, done: Promise.resolve() };

async function canaryLoop(): Promise<void> {
  for (let i = 0; !canary.stop; i++) {
    const s = pick(samples, i);
    const mode = pick(['original', 'reduced', 'features'] as const, i);
    const img: ClassifyImage = mode === 'original' ? { mode, data: s.png } : mode === 'reduced' ? s.reduced : s.features;
    const t = performance.now();
    try {
      const [r] = await Promise.race([good.classify('demo', [img]), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer in 30 s')), 30_000).unref())]);
      if (!r?.ok) canary.failures.push(`${s.file} ${mode}: ${r ? `${r.code} ${r.message}` : 'no result'}`);
      else if (r.label !== s.label) canary.failures.push(`${s.file} ${mode}: label ${r.label}, expected ${s.label}`);
    } catch (e) {
      canary.failures.push(`${s.file} ${mode}: ${(e as Error).message}`);
    }
    canary.latencies.push(performance.now() - t);
    canary.runs++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'medclass-fuzz-'));
  const modelFile = await breastModel();
  medclass(['publish', modelFile, '--data', dataDir, '--service', 'demo', '--modes', 'original,reduced,features']);
  medclass(['publish', modelFile, '--data', dataDir, '--service', 'restricted', '--modes', 'features']);
  await useCpuBackend();
  model = parseModel(readFileSync(modelFile, 'utf8'));
  samples = await Promise.all([...testImages('breastmnist', 6), ...testImages('retinamnist', 2)].map(makeSample));
  // thousands of connections and images from one address, by design: the per-address and
  // per-user ceilings (tested on their own in login_limits and address_limits) would refuse them
  const limits = {
    imagesPerMinute: 1_000_000,
    addresses: { connectionsPerAddress: 4096, handshakesPerAddressPerMinute: 1_000_000 },
    login: { perAddressPerMinute: 1_000_000, globalPerMinute: 1_000_000 },
    // the fuzzer and the well-behaved canary log in as the same user
    shares: { inFlightPerUser: 4096, inFlightTotal: 4096, queuedBytesPerUser: 2 ** 31, queuedBytesTotal: 2 ** 31 },
  };
  server = await startServerProcess({ dataDir, env: { MEDCLASS_LIMITS: JSON.stringify(limits) } });
  // a test process that dies (killed, timed out) must not leave the server running
  process.once('exit', () => server.child.kill('SIGKILL'));
  wsUrl = parseServerAddress(server.url).websocket.href;
  pin = await parsePin(server.pin);
  token = (await login(server, 'admin', ADMIN_PASSWORD)).token;
  good = await MedclassClient.connect(await connectWebSocket(server.url), pin);
  await good.resume(token);
  canary.done = canaryLoop();
}, 120_000);

afterAll(async () => {
  canary.stop = true;
  await canary.done;
  good?.close();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  const lines = [...tally.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, m]) => `  ${kind.padEnd(34)} ${[...m.values()].reduce((a, b) => a + b, 0).toString().padStart(6)}  ${[...m.entries()].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o}: ${n}`).join(', ')}`);
  const lat = canary.latencies.slice().sort((a, b) => a - b);
  console.log(
    `server fuzz (seed ${SEED}): ${totalInputs()} inputs, ${[...inputs.entries()].filter(([k]) => /^(pre|post|oversized)/.test(k)).reduce((n, [, v]) => n + v, 0)} of them malformed handshakes, frames or messages (one per connection)\n` +
      `${[...inputs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `  ${k.padEnd(34)} ${n}`).join('\n')}\noutcomes:\n${lines.join('\n')}\n` +
      `  canary: ${canary.runs} classifications, ${canary.failures.length} failures, p50 ${lat[Math.floor(lat.length / 2)]?.toFixed(1)} ms, max ${lat.at(-1)?.toFixed(1)} ms`,
  );
});

describe('a live server under malformed input', () => {
  it('refuses random and mutated handshakes with 4001/4002 (4010 for text)', async () => {
    await fuzz(preCaseArb, runs(250), 16, runPre, 1);
  }, 120_000);

  it('closes sessions on bad, mutated, replayed, reordered frames and malformed messages, with their codes', async () => {
    await fuzz(postCaseArb, runs(430), 14, runPost, 2);
  }, 180_000);

  it('answers every well-formed but wrong request with an error and keeps the session', async () => {
    await fuzz(fc.array(stepArb, { minLength: 200, maxLength: 300 }), runs(4), 4, runSession, 3);
  }, 180_000);

  it('answers classify requests whose pixels or features are not finite, or overflow', async () => {
    const special = fc.constantFrom(NaN, Infinity, -Infinity, 1e308, -1e308, 3.4e38, -3.4e38, Number.MAX_VALUE);
    const caseArb = fc.record({
      mode: fc.constantFrom('reduced' as const, 'features' as const),
      sample: fc.nat(),
      values: fc.array(fc.tuple(fc.nat(), special), { minLength: 1, maxLength: 8 }),
      fill: fc.option(special, { nil: undefined }),
    });
    await fuzz(
      caseArb,
      runs(10),
      4,
      async (c) => {
        const s = pick(samples, c.sample);
        let img: ClassifyImage;
        if (c.mode === 'reduced') {
          const px = new Float32Array(s.reduced.mode === 'reduced' ? new Float32Array(s.reduced.data.pixels.slice().buffer) : []);
          if (c.fill !== undefined) px.fill(c.fill);
          for (const [at, v] of c.values) px[at % px.length] = v;
          img = { mode: 'reduced', data: { width: model.imageSize!.width, height: model.imageSize!.height, pixels: packFloat32(px) } };
        } else {
          const v = new Float64Array(s.features.mode === 'features' ? new Float64Array(s.features.data.vector.slice().buffer) : []);
          if (c.fill !== undefined) v.fill(c.fill);
          for (const [at, x] of c.values) v[at % v.length] = x;
          img = { mode: 'features', data: { vector: packFloat64(v) } };
        }
        countInput(`nonFinite.${c.mode}`);
        const [r] = await Promise.race([
          good.classify('demo', [img]),
          new Promise<never>((_, reject) => setTimeout(() => reject(new CaseFailure(`no answer within 5 s\n  input: ${describeCase(c)}`)), 5_000).unref()),
        ]);
        record(`nonFinite.${c.mode}`, r?.ok ? 'result' : `error ${r?.code}`);
        if (r?.ok && !Object.values(r.scores).every(Number.isFinite)) failCase(c, 'a result with scores that are not finite');
      },
      4,
    );
  }, 120_000);

  /** A WebSocket message of `size` bytes that starts like a client frame naming all of it. */
  const bigFrame = (size: number) => {
    const frame = new Uint8Array(size);
    frame.set(Uint8Array.of(3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    new DataView(frame.buffer).setUint32(16, size - FRAME_HEADER_LENGTH);
    return frame;
  };

  it('closes with 1009 or 4016 on a WebSocket message above the payload limit, before the handshake', async () => {
    const raw = await Raw.open();
    raw.send(new Uint8Array(SERVER_MAX_PAYLOAD + 1024));
    countInput('oversized');
    const { code } = await raw.done;
    record('oversized.beforeHandshake', `close ${code}`);
    expect([1009, 4016]).toContain(code);
    assertServerHealthy();
  }, 60_000);

  it('closes with 1009 or 4016 on a WebSocket message above the payload limit, after the handshake', async () => {
    const ch = await Channel.open();
    ch.raw.send(bigFrame(SERVER_MAX_PAYLOAD + 1024));
    countInput('oversized');
    const { code } = await ch.raw.done;
    record('oversized.afterHandshake', `close ${code}`);
    expect([1009, 4016]).toContain(code);
    assertServerHealthy();
  }, 60_000);

  it('closes with 4014 on a forged frame just under the payload limit', async () => {
    const ch = await Channel.open();
    ch.raw.send(bigFrame(SERVER_MAX_PAYLOAD - 64));
    countInput('oversized');
    const { code } = await ch.raw.done;
    record('oversized.bigForgedFrame', `close ${code}`);
    expect(code).toBe(4014);
    assertServerHealthy();
  }, 60_000);

  it('served the well-behaved client throughout, and still does', async () => {
    canary.stop = true;
    await canary.done;
    expect(canary.failures).toEqual([]);
    expect(canary.runs).toBeGreaterThan(20);
    for (const mode of ['original', 'reduced', 'features'] as const) {
      const results = await good.classify(
        'demo',
        samples.map((s) => (mode === 'original' ? { mode, data: s.png } : mode === 'reduced' ? s.reduced : s.features)),
      );
      expect(results.map((r) => (r.ok ? r.label : `${r.code}`))).toEqual(samples.map((s) => s.label));
    }
    // inputs that are malformed at the handshake, frame or message level, each on its own connection
    const malformed = [...inputs.entries()].filter(([k]) => /^(pre|post|oversized)/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect(malformed).toBeGreaterThanOrEqual(10_000 * Math.min(1, SCALE));
    assertServerHealthy();
  }, 60_000);
});
