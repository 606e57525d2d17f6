import { describe, expect, it } from 'vitest';
import { notRedoneMessage, raced, redoMode } from './service_race.ts';

const result = (modelVersion: number) => ({ ok: true as const, label: 'a', scores: { a: 1 }, modelVersion, timings: { decryptMs: 0, decodeMs: 0, extractMs: 0, classifyMs: 0 } });

describe('a request that raced a change of its service', () => {
  it('is one answered by another version, or refused for its spec or mode', () => {
    expect(raced(1, result(1))).toBe(false);
    expect(raced(1, result(2))).toBe(true);
    expect(raced(1, { ok: false, code: 'invalidSpec' })).toBe(true);
    expect(raced(1, { ok: false, code: 'modeNotAllowed' })).toBe(true);
    expect(raced(1, { ok: false, code: 'corruptImage' })).toBe(false);
    // queued by an older release: the version it was made for is unknown
    expect(raced(undefined, result(2))).toBe(false);
  });

  it('is redone in the mode chosen, or one that sends less, never more', () => {
    expect(redoMode('reduced', { privacyModes: ['reduced', 'features'] })).toBe('reduced');
    expect(redoMode('reduced', { privacyModes: ['features'] })).toBe('features');
    expect(redoMode('original', { privacyModes: ['reduced', 'features'] })).toBe('reduced');
    expect(redoMode('features', { privacyModes: ['reduced', 'original'] })).toBeNull();
  });

  it('says plainly why it was not redone', () => {
    const job = { service: 'demo', version: 1, mode: 'features' as const };
    expect(notRedoneMessage('noFile', job, { version: 2, privacyModes: ['features'] })).toBe(
      'demo changed from version 1 to 2 while this image was waiting, so it was not classified: it had been prepared for the old version. Choose the file again to classify it with version 2.',
    );
    expect(notRedoneMessage('wider', job, { version: 2, privacyModes: ['original'] })).toMatch(/takes only original: more than the features data you chose, so nothing was sent again/);
    expect(notRedoneMessage('gone', job, null)).toBe('demo is no longer offered, so this image was not classified.');
  });
});
