import { describe, expect, it } from 'vitest';
import { DEFAULT_SPEC } from '../features/spec.ts';
import { utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import {
  MESSAGES,
  decodeMessage,
  encodeMessage,
  packFloat32,
  packFloat64,
  unpackFloat32,
  unpackFloat64,
  type Message,
} from './messages.ts';

const errorOf = (f: () => unknown): ProtocolError => {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw e;
  }
  throw new Error('no error');
};
const codeOf = (f: () => unknown): string => errorOf(f).code;

/** An envelope by hand, as docs/protocol.md section 4 lays it out. */
function envelope(code: number, json: string, attachments: Uint8Array[] = [], reserved = 0): Uint8Array {
  const body = utf8(json);
  const head = 8 + 4 * attachments.length;
  const out = new Uint8Array(head + body.length + attachments.reduce((n, a) => n + a.length, 0));
  const view = new DataView(out.buffer);
  out[0] = code;
  out[1] = reserved;
  view.setUint16(2, attachments.length);
  view.setUint32(4, body.length);
  attachments.forEach((a, i) => view.setUint32(8 + 4 * i, a.length));
  out.set(body, head);
  let o = head + body.length;
  for (const a of attachments) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

const pixels = packFloat32(Float32Array.from({ length: 64 * 64 }, (_, i) => i / 7));
const vector = packFloat64(Float64Array.from({ length: 1770 }, (_, i) => Math.sin(i)));

const samples: Message[] = [
  { type: 'login', requestId: 'l1', username: 'dr.who', password: 'correct horse battery staple' },
  { type: 'resume', requestId: 'l2', token: 'eyJhbGciOi.x.y' },
  { type: 'loggedIn', requestId: 'l1', user: 'dr.who', role: 'clinician', token: 'eyJhbGciOi.x.y', expiresAt: 1_800_000_000_000 },
  { type: 'logout', requestId: 'l3' },
  { type: 'listServices' },
  {
    type: 'services',
    services: [{ name: 'breast-us', description: 'BreastMNIST', version: 3, labels: ['benign', 'malignant'], privacyModes: ['reduced', 'features'], spec: { ...DEFAULT_SPEC, features: [...DEFAULT_SPEC.features] } }],
  },
  {
    type: 'classify',
    requestId: 'req-1',
    service: 'breast-us',
    images: [
      { name: 'a.png', mode: 'original', data: Uint8Array.of(0x89, 0x50, 0x4e, 0x47) },
      { mode: 'reduced', data: { width: 64, height: 64, pixels } },
      { name: 'c', mode: 'features', data: { vector } },
    ],
  },
  {
    type: 'result',
    requestId: 'req-1',
    index: 2,
    label: 'benign',
    scores: { benign: 0.8, malignant: 0.2 },
    modelVersion: 3,
    timings: { decryptMs: 0.05, decodeMs: 0, extractMs: 1.5, classifyMs: 0.3 },
  },
  { type: 'error', code: 'unknownService', message: 'no service named x' },
  { type: 'error', requestId: 'req-2', code: 'unauthorized', message: 'log in first' },
  { type: 'uploadStart', requestId: 'u1', uploadId: 'up-1', name: 'train.zip', totalBytes: 123456789, files: 3000 },
  { type: 'uploadChunk', uploadId: 'up-1', seq: 0, data: new Uint8Array(1000).fill(3) },
  { type: 'uploadEnd', requestId: 'u2', uploadId: 'up-1' },
  { type: 'train', requestId: 't1', uploadId: 'up-1', spec: { ...DEFAULT_SPEC, features: ['hog', 'glcmEnergy'] }, classifier: { kind: 'svm', C: 10, gamma: 'scale' } },
  { type: 'train', requestId: 't2', uploadId: 'up-1', spec: { ...DEFAULT_SPEC, features: ['hogMean'] }, classifier: { kind: 'knn', k: 5, metric: 'cosine' } },
  { type: 'trainProgress', jobId: 'job-1', phase: 'extract', done: 10, total: 3000 },
  { type: 'trainDone', jobId: 'job-1', report: { accuracy: 0.91, confusion: [[1, 2], [3, 4]], labels: ['a', 'b'], auc: null } },
  { type: 'publish', requestId: 'p1', jobId: 'job-1', service: 'breast-us', description: 'v2', privacyModes: ['original', 'reduced', 'features'] },
  { type: 'rollback', requestId: 'r1', service: 'breast-us', version: 2 },
  { type: 'ok', requestId: 'r1' },
  { type: 'ok', requestId: 't1', jobId: 'job-1' },
  { type: 'login', requestId: 'l3', username: 'dr.who', password: 'pw', deviceToken: 'AAAAAAAAAAAAAAAAAAAAAA.BBBB' },
  { type: 'loggedIn', requestId: 'l3', user: 'dr.who', role: 'clinician', token: 't', expiresAt: 1, deviceToken: 'AAAA.BBBB', mustChangePassword: true },
  { type: 'changePassword', requestId: 'a1', currentPassword: 'old one here', newPassword: 'a new one here' },
  { type: 'listUsers', requestId: 'a2' },
  { type: 'users', requestId: 'a2', users: [{ username: 'nurse', role: 'clinician', disabled: false, mustChangePassword: true, createdAt: '2026-01-01T00:00:00.000Z' }] },
  { type: 'addUser', requestId: 'a3', username: 'new.nurse', role: 'clinician' },
  { type: 'oneTimePassword', requestId: 'a3', username: 'new.nurse', password: 'abcdefghijklmnopqrst' },
  { type: 'resetPassword', requestId: 'a4', username: 'nurse' },
  { type: 'setRole', requestId: 'a5', username: 'nurse', role: 'admin' },
  { type: 'setDisabled', requestId: 'a6', username: 'nurse', disabled: true },
  { type: 'auditQuery', requestId: 'a7', user: 'nurse', service: 'demo', action: 'classify', from: '2026-01-01', to: '2026-01-31', before: 99, limit: 50 },
  {
    type: 'auditEntries',
    requestId: 'a7',
    more: false,
    entries: [{ id: 3, at: '2026-01-02T03:04:05.000Z', user: 'nurse', action: 'classify', service: 'demo', modelVersion: 1, outcome: 'ok', detail: { images: 1, mode: 'reduced' } }],
  },
  { type: 'vaultKey', requestId: 'a8' },
  { type: 'vault', requestId: 'a8', key: new Uint8Array(32).fill(7) },
  {
    type: 'serviceChanged',
    service: {
      name: 'breast-us',
      description: 'v1 again',
      version: 1,
      labels: ['benign', 'malignant'],
      privacyModes: ['reduced'],
      spec: { ...DEFAULT_SPEC },
      versions: [
        {
          version: 1,
          createdAt: '2026-01-01T00:00:00.000Z',
          createdBy: 'ann',
          description: 'v1 again',
          privacyModes: ['reduced'],
          summary: {
            classifier: 'SVM rbf C=1',
            features: ['hog'],
            size: 64,
            labels: ['benign', 'malignant'],
            trainedOn: 100,
            test: { n: 20, accuracy: 0.9, balancedAccuracy: 0.85, auc: null },
            estimate: { n: 10, accuracy: 0.8, balancedAccuracy: 0.8, auc: 0.9, mode: 'validation' },
          },
        },
        { version: 2, createdAt: '2026-01-02T00:00:00.000Z', createdBy: 'cli', description: '', privacyModes: ['original', 'reduced'], summary: null },
      ],
    },
  },
  { type: 'dropUpload', requestId: 'd1', uploadId: 'up-1' },
  { type: 'publishModel', requestId: 'm0', service: 'breast-us', description: 'trained in the browser', privacyModes: ['reduced', 'device'], model: new TextEncoder().encode('{"format":"medclass-model"}') },
  { type: 'fetchModel', requestId: 'm1', service: 'breast-us' },
  { type: 'deviceModel', requestId: 'm1', service: 'breast-us', version: 3, classifier: 'cnn', document: new TextEncoder().encode('{"format":"medclass-model"}') },
  { type: 'uploadDropped', uploadId: 'up-1', reason: 'memory', message: 'dropped to make room' },
];

describe('messages', () => {
  it('every type round-trips through the envelope', () => {
    const seen = new Set(samples.map((m) => m.type));
    expect([...seen].sort()).toEqual(Object.keys(MESSAGES).sort());
    for (const m of samples) {
      const bytes = encodeMessage(m, MESSAGES[m.type].from);
      expect(bytes[0]).toBe(MESSAGES[m.type].code);
      expect(decodeMessage(bytes, MESSAGES[m.type].from)).toEqual(m);
    }
  });

  it('carries bytes raw: a 64x64 reduced image costs 16 KiB and a little', () => {
    const m: Message = { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'reduced', data: { width: 64, height: 64, pixels } }] };
    const bytes = encodeMessage(m);
    expect(bytes.length).toBeGreaterThan(16384);
    expect(bytes.length).toBeLessThan(16384 + 128);
    const back = decodeMessage(bytes);
    expect(back.type === 'classify' && back.images[0]!.mode === 'reduced' && unpackFloat32(back.images[0]!.data.pixels)).toEqual(unpackFloat32(pixels));
    const json = new TextDecoder().decode(bytes.subarray(12, 12 + new DataView(bytes.buffer).getUint32(4)));
    expect(JSON.parse(json)).toEqual({ requestId: 'r', service: 's', images: [{ mode: 'reduced', data: { width: 64, height: 64, pixels: { $bin: 0 } } }] });
  });

  it('packs floats little-endian, aligned or not', () => {
    const f32 = Float32Array.of(1.5, -2, Math.PI);
    const b = packFloat32(f32);
    expect([...b.subarray(0, 4)]).toEqual([0, 0, 0xc0, 0x3f]);
    const shifted = new Uint8Array(b.length + 1);
    shifted.set(b, 1);
    expect(unpackFloat32(shifted.subarray(1))).toEqual(f32);
    const f64 = Float64Array.of(1e-300, -0.1);
    expect(unpackFloat64(packFloat64(f64))).toEqual(f64);
    expect(codeOf(() => unpackFloat64(new Uint8Array(12)))).toBe('schema');
  });

  it('schemas refuse bad messages', () => {
    const bad: unknown[] = [
      { type: 'nope' },
      { type: 'authenticate', token: 'x' },
      { type: 'resume', requestId: 'r' },
      { type: 'resume', requestId: 'r', token: '' },
      { type: 'resume', requestId: 'r', token: 'x', extra: 1 },
      { type: 'login', requestId: 'r', username: 'u', password: '' },
      { type: 'loggedIn', requestId: 'r', user: 'u', role: 'root', token: 't', expiresAt: 1 },
      { type: 'loggedIn', requestId: 'r', user: 'u', role: 'admin', token: 't', expiresAt: 1.5 },
      { type: 'addUser', requestId: 'r', username: 'Bad Name', role: 'clinician' },
      { type: 'vault', requestId: 'r', key: new Uint8Array(31) },
      { type: 'auditQuery', requestId: 'r', from: 'yesterday' },
      { type: 'login', requestId: 'r', username: 'u', password: 'p', deviceToken: 'no dot here' },
      { type: 'logout' },
      { type: 'listServices', x: 1 },
      { type: 'classify', requestId: 'r', service: 's', images: [] },
      { type: 'classify', requestId: 'bad id', service: 's', images: [{ mode: 'original', data: Uint8Array.of(1) }] },
      { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'original', data: 'aGVsbG8=' }] },
      { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'original', data: new Uint8Array(0) }] },
      { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'reduced', data: { width: 0, height: 64, pixels: new Uint8Array(0) } }] },
      { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'features', data: { vector: new Uint8Array(4) } }] },
      { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'thumbnail', data: Uint8Array.of(1) }] },
      { type: 'classify', requestId: 'r', service: 's', images: Array.from({ length: 65 }, () => ({ mode: 'original', data: Uint8Array.of(1) })) },
      { type: 'result', requestId: 'r', index: 0, label: 'a', scores: { a: 1 }, modelVersion: 0, timings: { decryptMs: 0, decodeMs: 0, extractMs: 0, classifyMs: 0 } },
      { type: 'result', requestId: 'r', index: 0, label: 'a', scores: { a: 1 }, modelVersion: 1, timings: { decryptMs: -1, decodeMs: 0, extractMs: 0, classifyMs: 0 } },
      { type: 'result', requestId: 'r', index: 0, label: 'a', scores: { '': 1 }, modelVersion: 1, timings: { decryptMs: 0, decodeMs: 0, extractMs: 0, classifyMs: 0 } },
      { type: 'error', code: 'has space', message: 'm' },
      { type: 'uploadChunk', uploadId: 'u', seq: -1, data: Uint8Array.of(1) },
      { type: 'uploadChunk', uploadId: 'u', seq: 0, data: new Uint8Array(4 * 2 ** 20 + 1) },
      { type: 'uploadStart', requestId: 'r', uploadId: 'u', name: 'n', totalBytes: 1.5, files: 1 },
      { type: 'train', requestId: 'r', uploadId: 'u', spec: { ...DEFAULT_SPEC, features: [] }, classifier: { kind: 'svm' } },
      { type: 'train', requestId: 'r', uploadId: 'u', spec: DEFAULT_SPEC, classifier: { kind: 'forest' } },
      { type: 'train', requestId: 'r', uploadId: 'u', spec: DEFAULT_SPEC, classifier: { kind: 'knn', k: 0 } },
      { type: 'trainProgress', jobId: 'j', phase: 'x', done: 5, total: 4 },
      { type: 'publish', requestId: 'r', jobId: 'j', service: 's', description: '', privacyModes: ['reduced', 'reduced'] },
      { type: 'publish', requestId: 'r', jobId: 'j', service: 's', description: '', privacyModes: [] },
      { type: 'rollback', requestId: 'r', service: 's/..', version: 1 },
      { type: 'ok' },
      { type: 'trainDone', jobId: 'j', report: { $bin: 0 } },
      null,
      'authenticate',
    ];
    bad.forEach((m, i) => expect(codeOf(() => encodeMessage(m as Message)), `case ${i}`).toBe('schema'));
  });

  it('a side may only send its own types', () => {
    expect(codeOf(() => encodeMessage({ type: 'ok', requestId: 'r' }, 'client'))).toBe('schema');
    const envelope = encodeMessage({ type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'original', data: Uint8Array.of(1) }] });
    expect(codeOf(() => decodeMessage(envelope, 'server'))).toBe('schema');
    expect(decodeMessage(envelope, 'client').type).toBe('classify');
  });

  it('schema errors name the path, never the values', () => {
    const e = errorOf(() => encodeMessage({ type: 'resume', requestId: 'r', token: 'super-secret-token', ['super-secret-key']: 1 } as never));
    expect(e.message).toMatch(/invalid resume message: .*unexpected field/);
    expect(e.message).not.toContain('super-secret');
    const f = errorOf(() => decodeMessage(envelope(21, '{"requestId":"r","token":12345678}')));
    expect(f.message).toMatch(/token/);
    expect(f.message).not.toContain('12345678');
  });

  it('refuses malformed envelopes', () => {
    const one = Uint8Array.of(1, 2, 3);
    const ok = (json: string, att: Uint8Array[] = []) => envelope(9, json, att);
    expect(decodeMessage(ok('{"uploadId":"u","seq":0,"data":{"$bin":0}}', [one]))).toEqual({ type: 'uploadChunk', uploadId: 'u', seq: 0, data: one });
    const good = ok('{"uploadId":"u","seq":0,"data":{"$bin":0}}', [one]);
    const cases: [string, Uint8Array][] = [
      ['short', good.subarray(0, 7)],
      ['unknown type', envelope(99, '{}')],
      ['type 0', envelope(0, '{}')],
      ['reserved', envelope(3, '{}', [], 1)],
      ['missing attachment bytes', good.subarray(0, good.length - 1)],
      ['bytes after the end', Uint8Array.of(...good, 0)],
      ['json short', envelope(3, '{}').subarray(0, 9)],
      ['not json', envelope(3, '{')],
      ['not utf-8', Uint8Array.of(3, 0, 0, 0, 0, 0, 0, 2, 0xc3, 0x28)],
      ['array body', envelope(3, '[]')],
      ['unreferenced attachment', ok('{"uploadId":"u","seq":0,"data":{"$bin":0}}', [one, one])],
      ['reference out of range', ok('{"uploadId":"u","seq":0,"data":{"$bin":1}}', [one])],
      ['reference twice', ok('{"uploadId":"u","seq":0,"data":[{"$bin":0},{"$bin":0}]}', [one])],
      ['reference with extra key', ok('{"uploadId":"u","seq":0,"data":{"$bin":0,"x":1}}', [one])],
      ['reference not a number', ok('{"uploadId":"u","seq":0,"data":{"$bin":"0"}}', [one])],
      ['__proto__', envelope(3, '{"__proto__":{"polluted":1}}')],
      ['deep nesting', envelope(3, `{"a":${'['.repeat(40)}${']'.repeat(40)}}`)],
      ['huge attachment count', (() => {
        const e = envelope(3, '{}');
        new DataView(e.buffer).setUint16(2, 0xffff);
        return e;
      })()],
      ['huge json length', (() => {
        const e = envelope(3, '{}');
        new DataView(e.buffer).setUint32(4, 0xffffffff);
        return e;
      })()],
    ];
    for (const [what, bytes] of cases) expect(codeOf(() => decodeMessage(bytes)), what).toBe('badMessage');
    expect(codeOf(() => decodeMessage(envelope(3, '{"type":"listServices"}')))).toBe('schema');
    expect(codeOf(() => decodeMessage(envelope(3, '{"x":1}')))).toBe('schema');
    // bytes smuggled where JSON is expected
    expect(codeOf(() => decodeMessage(envelope(13, '{"jobId":"j","report":{"x":{"$bin":0}}}', [one])))).toBe('schema');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
