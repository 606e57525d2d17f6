import { describe, expect, it } from 'vitest';
import { parseServerAddress, unreachable } from './server_address.ts';

describe('parseServerAddress', () => {
  it.each([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/ws'],
    ['ws://127.0.0.1:8080', 'http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/ws'],
    ['ws://127.0.0.1:8080/ws', 'http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/ws'],
    ['wss://medclass.example.org', 'https://medclass.example.org/', 'wss://medclass.example.org/ws'],
    ['https://medclass.example.org/', 'https://medclass.example.org/', 'wss://medclass.example.org/ws'],
    ['127.0.0.1:8080', 'http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/ws'],
    [' localhost:9000 ', 'http://localhost:9000/', 'ws://localhost:9000/ws'],
  ])('reads %s', (input, http, websocket) => {
    const a = parseServerAddress(input);
    expect(a.http.href).toBe(http);
    expect(a.websocket.href).toBe(websocket);
  });

  it('says what to type for what it cannot read', () => {
    expect(() => parseServerAddress('ftp://host')).toThrow(/use http:\/\/, https:\/\/, ws:\/\/ or wss:\/\//);
    expect(() => parseServerAddress('http://host:8080/api/login')).toThrow(/without a path/);
    expect(() => parseServerAddress('http://[::1')).toThrow(/not an address: give it as http:\/\/host:port/);
  });
});

describe('unreachable', () => {
  it('names the server and the reason, also for fetch\'s wrapped errors', () => {
    const url = new URL('http://127.0.0.1:9/');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(unreachable(url, new TypeError('fetch failed', { cause: refused })).message).toBe(
      'cannot reach the MedClass server at http://127.0.0.1:9/: nothing is listening there (is the server running, and on this port?)',
    );
    expect(unreachable(url, new Error('Unexpected server response: 404')).message).toBe(
      'cannot reach the MedClass server at http://127.0.0.1:9/: it answered HTTP 404: is it a MedClass server?',
    );
  });
});
