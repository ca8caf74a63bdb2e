import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import {
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  VERSION_OFFER_BYTES,
  chooseVersion,
  decodePreamble,
  decodeVersionOffer,
  encodePreamble,
  encodeVersionOffer,
  isPreamble,
  versionPrologue,
} from '../../src/protocol/index.js';
import { assertFerryCode } from './message-assertions.js';

test('`encodePreamble` writes FERRY, a zero byte and the version: the server answer (PROTOCOL.md §2.3)', () => {
  assert.equal(PROTOCOL_VERSION, 2);
  assert.deepEqual(encodePreamble(), Buffer.from('4645525259000002', 'hex'));
  assert.equal(encodePreamble().length, PREAMBLE_BYTES);
  assert.deepEqual(encodePreamble(0x0203), Buffer.from('4645525259000203', 'hex'));
});

test('`encodeVersionOffer` writes FERRY\\0, the highest and the lowest version (PROTOCOL.md §2)', () => {
  assert.deepEqual(encodeVersionOffer(), Buffer.from('46455252590000020002', 'hex'));
  assert.equal(encodeVersionOffer().length, VERSION_OFFER_BYTES);
  assert.deepEqual(encodeVersionOffer({ min: 2, max: 5 }), Buffer.from('46455252590000050002', 'hex'));
  // Its first 8 bytes are version 1's preamble layout with the highest version: what a v1 server reads.
  assert.deepEqual(decodePreamble(encodeVersionOffer({ min: 2, max: 5 }).subarray(0, 8)), { version: 5 });
  assert.deepEqual(decodeVersionOffer(encodeVersionOffer({ min: 2, max: 5 })), { min: 2, max: 5 });
  assert.throws(() => encodeVersionOffer({ min: 3, max: 2 }), FerryError);
});

test('`decodeVersionOffer` refuses bad magic, a wrong length and a lowest version above the highest', () => {
  for (const hex of [
    '46455252590000020003',
    '46455252590100020002',
    '464552525900000200',
    '4645525259000002000200',
  ])
    assertFerryCode(() => decodeVersionOffer(Buffer.from(hex, 'hex')), 'MESSAGE_MALFORMED');
});

test('`chooseVersion` picks the highest common version, or null when the ranges do not meet (§2.3)', () => {
  assert.equal(chooseVersion({ min: 2, max: 2 }, { min: 2, max: 2 }), 2);
  assert.equal(chooseVersion({ min: 1, max: 3 }, { min: 2, max: 2 }), 2);
  assert.equal(chooseVersion({ min: 2, max: 4 }, { min: 2, max: 3 }), 3);
  assert.equal(chooseVersion({ min: 1, max: 1 }, { min: 2, max: 2 }), null);
  assert.equal(chooseVersion({ min: 3, max: 4 }, { min: 2, max: 2 }), null);
});

test('`versionPrologue` is the offer followed by the answer (§2.5)', () => {
  assert.deepEqual(
    versionPrologue(encodeVersionOffer(), encodePreamble(2)),
    Buffer.from('464552525900000200024645525259000002', 'hex'),
  );
});

test('`decodePreamble` reads back the version', () => {
  assert.deepEqual(decodePreamble(encodePreamble()), { version: PROTOCOL_VERSION });
  assert.deepEqual(decodePreamble(new Uint8Array(encodePreamble(0xffff))), { version: 0xffff });
});

test('`decodePreamble` refuses bad magic and wrong lengths with MESSAGE_MALFORMED', () => {
  const isMalformed = (err: unknown) => err instanceof FerryError && err.code === 'MESSAGE_MALFORMED';
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
