// The batched download messages (PROTOCOL.md §5.20) against hand-written bytes in both directions, their
// limits, and seeded property tests: any answer that fits a record survives encode/decode, any split of its
// entries into records reads as the same entries, and random bodies only ever give a coded error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FerryError } from '../../src/errors/index.js';
import {
  GET_BATCH_DATA_HEADER_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  getBatchEntryBytes,
  type GetBatchEntry,
  type Message,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { assertFerryCode as assertCode, hexBytes as h } from './message-assertions.js';

const D1 = '11'.repeat(32);

const VECTORS: readonly [string, Message][] = [
  // ref 7, no flags, 2 paths: 'ab' and 'c/é'.
  ['25 00000007 00 0002 0002 6162 0004 632fc3a9', { type: 'GET_BATCH', ref: 7, paths: ['ab', 'c/é'] }],
  [
    // ref 7, 3 entries: FILE 'hi' (mtime 1000, mode 0644), REFUSED code 0x13, an empty FILE.
    `26 00000007 0003 ` +
      `00 00000002 00000000000003e8 01a4 ${D1} 6869 ` +
      `01 0013 ` +
      `00 00000000 0000000000000000 0000 ${D1}`,
    {
      type: 'GET_BATCH_DATA',
      ref: 7,
      entries: [
        { status: 'file', mtimeMs: 1000, mode: 0o644, fileDigest: h(D1), data: Buffer.from('hi') },
        { status: 'refused', code: 0x13 },
        { status: 'file', mtimeMs: 0, mode: 0, fileDigest: h(D1), data: Buffer.alloc(0) },
      ],
    },
  ],
];

test('GET_BATCH and GET_BATCH_DATA match their hand-written wire vectors in both directions', () => {
  for (const [hex, message] of VECTORS) {
    assert.equal(encodeMessage(message).toString('hex'), h(hex).toString('hex'), message.type);
    assert.deepEqual(decodeMessage(h(hex)), message, message.type);
  }
});

test('GET_BATCH refuses no path, more than MAX_BATCH_ENTRIES, flags, and trailing bytes, both ways', () => {
  assertCode(() => encodeMessage({ type: 'GET_BATCH', ref: 1, paths: [] }), 'MESSAGE_MALFORMED');
  const tooMany = Array.from({ length: MAX_BATCH_ENTRIES + 1 }, () => 'a');
  assertCode(() => encodeMessage({ type: 'GET_BATCH', ref: 1, paths: tooMany }), 'MESSAGE_MALFORMED');
  assertCode(() => encodeMessage({ type: 'GET_BATCH', ref: 0, paths: ['a'] }), 'MESSAGE_MALFORMED');
  assertCode(() => decodeMessage(h('25 00000001 00 0000')), 'MESSAGE_MALFORMED');
  assertCode(() => decodeMessage(h('25 00000001 00 0201')), 'MESSAGE_MALFORMED');
  assertCode(() => decodeMessage(h('25 00000001 01 0001 0001 61')), 'MESSAGE_MALFORMED');
  assertCode(() => decodeMessage(h('25 00000001 00 0001 0001 61 00')), 'MESSAGE_MALFORMED');
  assertCode(() => decodeMessage(h('25 00000001 00 0002 0001 61')), 'MESSAGE_MALFORMED');
  // More paths than one record holds cannot be encoded: a request is one record (§5.20).
  const long = Array.from({ length: 20 }, () => 'p'.repeat(4000));
  assertCode(() => encodeMessage({ type: 'GET_BATCH', ref: 1, paths: long }), 'MESSAGE_MALFORMED');
});

test('GET_BATCH_DATA refuses an oversized entry before copying it, status and code rules, and mode bits', () => {
  const big = (MAX_BATCH_FILE_BYTES + 1).toString(16).padStart(8, '0');
  assertCode(
    () => decodeMessage(h(`26 00000001 0001 00 ${big} 0000000000000000 0000 ${D1}`)),
    'MESSAGE_MALFORMED',
  );
  // An unknown status, a refusal with code 0, a truncated entry, no entry.
  assertCode(() => decodeMessage(h('26 00000001 0001 02 0013')), 'MESSAGE_MALFORMED');
  assertCode(() => decodeMessage(h('26 00000001 0001 01 0000')), 'MESSAGE_MALFORMED');
  assertCode(
    () => decodeMessage(h(`26 00000001 0001 00 00000004 0000000000000000 0000 ${D1} 6869`)),
    'MESSAGE_MALFORMED',
  );
  assertCode(() => decodeMessage(h('26 00000001 0000')), 'MESSAGE_MALFORMED');
  // File-type bits in the mode (§5.3).
  assertCode(
    () => decodeMessage(h(`26 00000001 0001 00 00000000 0000000000000000 8000 ${D1}`)),
    'MESSAGE_MALFORMED',
  );
  assertCode(
    () => encodeMessage({ type: 'GET_BATCH_DATA', ref: 1, entries: [{ status: 'refused', code: 0 }] }),
    'MESSAGE_MALFORMED',
  );
  const tooBig: GetBatchEntry = {
    status: 'file',
    mtimeMs: 0,
    mode: 0,
    fileDigest: h(D1),
    data: Buffer.alloc(MAX_BATCH_FILE_BYTES + 1),
  };
  assertCode(() => encodeMessage({ type: 'GET_BATCH_DATA', ref: 1, entries: [tooBig] }), 'MESSAGE_MALFORMED');
});

test('any GET_BATCH_DATA of entries that fit one record survives encode and decode, and its size is the packer’s count (seeded)', () => {
  const random = new SeededRandom(20_251_205);
  for (let round = 0; round < 200; round++) {
    const entries: GetBatchEntry[] = [];
    let bytes = GET_BATCH_DATA_HEADER_BYTES;
    for (;;) {
      const entry: GetBatchEntry =
        random.int(0, 3) === 0
          ? { status: 'refused', code: random.int(1, 0xffff) }
          : {
              status: 'file',
              mtimeMs: random.int(0, 2 ** 32 - 1) * 256,
              mode: random.int(0, 0o7777),
              fileDigest: random.bytes(32),
              data: random.bytes(
                random.int(0, 1) === 0 ? random.int(0, 63) : random.int(0, MAX_BATCH_FILE_BYTES),
              ),
            };
      if (bytes + getBatchEntryBytes(entry) > MAX_MESSAGE_BYTES || entries.length === MAX_BATCH_ENTRIES)
        break;
      entries.push(entry);
      bytes += getBatchEntryBytes(entry);
    }
    if (entries.length === 0) continue;
    const message: Message = { type: 'GET_BATCH_DATA', ref: random.int(1, 1000), entries };
    const encoded = encodeMessage(message);
    assert.equal(encoded.length, bytes);
    assert.deepEqual(decodeMessage(encoded), message);
  }
});

test('random GET_BATCH and GET_BATCH_DATA bodies give a coded error or a message, never anything else (seeded)', () => {
  const random = new SeededRandom(4_242);
  for (let round = 0; round < 3000; round++) {
    const body = random.bytes(random.int(0, 79));
    for (const type of [0x25, 0x26]) {
      try {
        decodeMessage(Buffer.concat([Buffer.from([type]), body]));
      } catch (err) {
        assert.ok(err instanceof FerryError, String(err));
      }
    }
  }
});
