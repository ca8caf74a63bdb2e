import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FerryError } from '../../src/errors/index.js';
import {
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  decodePreamble,
  encodePreamble,
  isPreamble,
} from '../../src/protocol/index.js';

test('`encodePreamble` writes FERRY, a zero byte and the version (PROTOCOL.md §2)', () => {
  assert.deepEqual(encodePreamble(), Buffer.from('4645525259000001', 'hex'));
  assert.equal(encodePreamble().length, PREAMBLE_BYTES);
  assert.deepEqual(encodePreamble(0x0203), Buffer.from('4645525259000203', 'hex'));
});

test('`decodePreamble` reads back the version', () => {
  assert.deepEqual(decodePreamble(encodePreamble()), { version: PROTOCOL_VERSION });
  assert.deepEqual(decodePreamble(new Uint8Array(encodePreamble(0xffff))), { version: 0xffff });
});

test('`decodePreamble` refuses bad magic and wrong lengths with MESSAGE_MALFORMED', () => {
  const isMalformed = (err: unknown): boolean =>
    err instanceof FerryError && err.code === 'MESSAGE_MALFORMED';
  assert.throws(() => decodePreamble(Buffer.from('4645525259010001', 'hex')), isMalformed);
  assert.throws(() => decodePreamble(Buffer.from('GET / HTTP/1.1', 'latin1').subarray(0, 8)), isMalformed);
  assert.throws(() => decodePreamble(encodePreamble().subarray(0, 7)), isMalformed);
  assert.throws(() => decodePreamble(Buffer.concat([encodePreamble(), Buffer.from([0])])), isMalformed);
});

test('`isPreamble` detects FERRY\\0 from its first six bytes (PROTOCOL.md §2.3)', () => {
  assert.equal(isPreamble(encodePreamble(2)), true);
  assert.equal(isPreamble(encodePreamble().subarray(0, 6)), true);
  assert.equal(isPreamble(encodePreamble().subarray(0, 5)), false);
  assert.equal(isPreamble(Buffer.from('0060', 'hex')), false);
  assert.equal(isPreamble(Buffer.from('FERRY!00', 'latin1')), false);
});

test('`encodePreamble` refuses a version that is not a u16', () => {
  assert.throws(() => encodePreamble(0x10000), FerryError);
  assert.throws(() => encodePreamble(-1), FerryError);
});
