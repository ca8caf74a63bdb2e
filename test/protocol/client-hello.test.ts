import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_HELLO_BYTES,
  MODE_NORMAL,
  MODE_PAIRING,
  decodeClientHello,
  encodeClientHello,
} from '../../src/protocol/index.js';
import { assertFerryCode } from './message-assertions.js';

// PROTOCOL.md §3.1: message 3's payload is exactly one byte, `u8 mode`, 0 or 1.
test('ClientHello is one mode byte and decodes back to its mode', () => {
  assert.equal(CLIENT_HELLO_BYTES, 1);
  assert.deepEqual(encodeClientHello(MODE_NORMAL), Buffer.of(0));
  assert.deepEqual(encodeClientHello(MODE_PAIRING), Buffer.of(1));
  assert.equal(decodeClientHello(Buffer.of(0)), MODE_NORMAL);
  assert.equal(decodeClientHello(Buffer.of(1)), MODE_PAIRING);
});

test('decodeClientHello rejects an empty payload, a second byte and an unknown mode with HANDSHAKE_FAILED', () => {
  for (const payload of [Buffer.alloc(0), Buffer.of(0, 0), Buffer.of(1, 0), Buffer.of(2), Buffer.of(0xff)])
    assertFerryCode(() => decodeClientHello(payload), 'HANDSHAKE_FAILED');
});
