import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CRITICAL_ENTRY_BIT,
  ENTRY_MODE,
  MODE_NORMAL,
  MODE_PAIRING,
  decodeClientHello,
  decodeEmptyHello,
  decodeHandshakePayload,
  encodeClientHello,
  encodeEmptyHello,
  encodeHandshakePayload,
} from '../../src/protocol/index.js';
import { assertFerryCode } from './message-assertions.js';

const entry = (type: number, value: number[]): Buffer =>
  Buffer.concat([
    Buffer.of(type >> 8, type & 0xff, value.length >> 8, value.length & 0xff),
    Buffer.from(value),
  ]);

// PROTOCOL.md §3.1: message 3's payload is an entry list holding the mode entry (type 1, one byte: 0 or 1).
test('ClientHello is the mode entry and decodes back to its mode', () => {
  assert.equal(ENTRY_MODE, 1);
  assert.deepEqual(encodeClientHello(MODE_NORMAL), Buffer.from('0001000100', 'hex'));
  assert.deepEqual(encodeClientHello(MODE_PAIRING), Buffer.from('0001000101', 'hex'));
  assert.equal(decodeClientHello(encodeClientHello(MODE_NORMAL)), MODE_NORMAL);
  assert.equal(decodeClientHello(encodeClientHello(MODE_PAIRING)), MODE_PAIRING);
});

test('decodeClientHello skips an unknown entry without the critical bit (PROTOCOL.md §3.1.1)', () => {
  const payload = Buffer.concat([entry(ENTRY_MODE, [1]), entry(0x0042, [9, 9, 9]), entry(0x7fff, [])]);
  assert.equal(decodeClientHello(payload), MODE_PAIRING);
});

test('decodeClientHello refuses a missing, long or unknown mode, an unknown critical entry, disorder and truncation', () => {
  for (const payload of [
    Buffer.alloc(0),
    Buffer.of(0),
    entry(ENTRY_MODE, []),
    entry(ENTRY_MODE, [0, 0]),
    entry(ENTRY_MODE, [2]),
    entry(ENTRY_MODE, [0xff]),
    Buffer.concat([entry(ENTRY_MODE, [0]), entry(CRITICAL_ENTRY_BIT | 0x0042, [])]),
    Buffer.concat([entry(ENTRY_MODE, [0]), entry(ENTRY_MODE, [0])]),
    Buffer.concat([entry(0x0042, []), entry(ENTRY_MODE, [0])]),
    entry(ENTRY_MODE, [0]).subarray(0, 4),
    Buffer.concat([entry(ENTRY_MODE, [0]), Buffer.of(0, 2, 0)]),
  ])
    assertFerryCode(() => decodeClientHello(payload), 'HANDSHAKE_FAILED');
});

test('messages 1 and 2 carry an entry list with no entries; unknown entries are skipped unless critical', () => {
  assert.equal(encodeEmptyHello().length, 0);
  decodeEmptyHello(Buffer.alloc(0));
  decodeEmptyHello(entry(0x0005, [1, 2]));
  assertFerryCode(() => decodeEmptyHello(entry(0x8005, [1, 2])), 'HANDSHAKE_FAILED');
  assertFerryCode(() => decodeEmptyHello(Buffer.of(0, 5, 0)), 'HANDSHAKE_FAILED');
});

test('handshake entry lists round-trip, and the encoder refuses disorder', () => {
  const entries = [
    { type: 1, value: Buffer.of(7) },
    { type: 0x0100, value: Buffer.alloc(300, 1) },
  ];
  const decoded = decodeHandshakePayload(encodeHandshakePayload(entries), new Set([1, 0x0100]));
  assert.deepEqual(
    [...decoded.entries()],
    entries.map((e) => [e.type, e.value]),
  );
  assert.throws(() => encodeHandshakePayload([entries[1]!, entries[0]!]));
});
