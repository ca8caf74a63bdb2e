// The batch messages (PROTOCOL.md §5.14) against hand-written bytes in both directions, their limits, and
// seeded property tests: any batch that fits a record survives encode/decode, and random bodies only ever
// give a coded error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { ErrorCode } from '../../src/errors/index.js';
import { FerryError } from '../../src/errors/index.js';
import {
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  PUT_BATCH_HEADER_BYTES,
  batchEntryBytes,
  decodeMessage,
  encodeMessage,
  smallFileDigest,
  type BatchEntry,
  type Message,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { assertFerryCode as assertCode, hexBytes as h } from './message-assertions.js';

const D1 = '11'.repeat(32);

const VECTORS: readonly [string, Message][] = [
  [
    // ref 7, OVERWRITE, chunkBytes 65536, 2 entries: 'ab' (size 2, mtime 1000, mode 0644) and an empty 'c'.
    `19 00000007 01 00010000 0002 ` +
      `00000002 00000000000003e8 01a4 ${D1} 0002 6162 6869 ` +
      `00000000 0000000000000000 0000 ${D1} 0001 63`,
    {
      type: 'PUT_BATCH',
      ref: 7,
      overwrite: true,
      chunkBytes: 65536,
      entries: [
        { size: 2, mtimeMs: 1000, mode: 0o644, fileDigest: h(D1), path: 'ab', data: Buffer.from('hi') },
        { size: 0, mtimeMs: 0, mode: 0, fileDigest: h(D1), path: 'c', data: Buffer.alloc(0) },
      ],
    },
  ],
  ['1a 00000007 00000002', { type: 'BATCH_END', ref: 7, totalEntries: 2 }],
  [
    '1b 00000007 0003 000000 010000 020013',
    {
      type: 'BATCH_DONE',
      ref: 7,
      results: [{ status: 'placed' }, { status: 'identical' }, { status: 'refused', code: 0x13 }],
    },
  ],
];

test('PUT_BATCH, BATCH_END and BATCH_DONE match their hand-written wire vectors in both directions', () => {
  for (const [hex, message] of VECTORS) {
    assert.equal(encodeMessage(message).toString('hex'), h(hex).toString('hex'), message.type);
    assert.deepEqual(decodeMessage(h(hex)), message, message.type);
  }
});

const ENTRY_B = `00000002 0000000000000000 01a4 ${D1} 0001 62 6869`;
const MALFORMED: readonly [string, string, ErrorCode][] = [
  ['a PUT_BATCH with ref 0', `19 00000000 00 00000400 0001 ${ENTRY_B}`, 'MESSAGE_MALFORMED'],
  ['a PUT_BATCH with a reserved flag bit', `19 00000001 02 00000400 0001 ${ENTRY_B}`, 'MESSAGE_MALFORMED'],
  ['a PUT_BATCH with no entries', '19 00000001 00 00000400 0000', 'MESSAGE_MALFORMED'],
  ['a PUT_BATCH of 513 entries', `19 00000001 00 00000400 0201 ${ENTRY_B}`, 'MESSAGE_MALFORMED'],
  [
    'a PUT_BATCH with chunkBytes not a power of two',
    `19 00000001 00 00000401 0001 ${ENTRY_B}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_BATCH with fewer entries than counted',
    `19 00000001 00 00000400 0002 ${ENTRY_B}`,
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_BATCH with a trailing byte', `19 00000001 00 00000400 0001 ${ENTRY_B} 00`, 'MESSAGE_MALFORMED'],
  [
    'a PUT_BATCH entry larger than MAX_BATCH_FILE_BYTES',
    `19 00000001 00 00010000 0001 ${(MAX_BATCH_FILE_BYTES + 1).toString(16).padStart(8, '0')} 0000000000000000 01a4 ${D1} 0001 62 ${'00'.repeat(MAX_BATCH_FILE_BYTES + 1)}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_BATCH entry larger than its chunk',
    `19 00000001 00 00000400 0001 00000401 0000000000000000 01a4 ${D1} 0001 62 ${'00'.repeat(0x401)}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_BATCH entry with file-type bits in its mode',
    `19 00000001 00 00000400 0001 00000002 0000000000000000 81a4 ${D1} 0001 62 6869`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_BATCH entry shorter than its size',
    `19 00000001 00 00000400 0001 00000003 0000000000000000 01a4 ${D1} 0001 62 6869`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_BATCH entry path of invalid utf-8',
    `19 00000001 00 00000400 0001 00000002 0000000000000000 01a4 ${D1} 0001 ff 6869`,
    'MESSAGE_MALFORMED',
  ],
  ['a BATCH_END of 0 entries', '1a 00000001 00000000', 'MESSAGE_MALFORMED'],
  ['a BATCH_END of 513 entries', '1a 00000001 00000201', 'MESSAGE_MALFORMED'],
  ['a BATCH_END with ref 0', '1a 00000000 00000001', 'MESSAGE_MALFORMED'],
  ['a BATCH_DONE refusing with code 0', '1b 00000001 0001 020000', 'MESSAGE_MALFORMED'],
  ['a BATCH_DONE placing with a code', '1b 00000001 0001 000013', 'MESSAGE_MALFORMED'],
  ['a BATCH_DONE with an unknown status', '1b 00000001 0001 030000', 'MESSAGE_MALFORMED'],
  ['a BATCH_DONE with fewer results than counted', '1b 00000001 0002 000000', 'MESSAGE_MALFORMED'],
  ['a BATCH_DONE with no results', '1b 00000001 0000', 'MESSAGE_MALFORMED'],
];

for (const [name, hex, code] of MALFORMED) {
  test(`\`decodeMessage\` refuses ${name} with ${code}`, () => {
    assertCode(() => decodeMessage(h(hex)), code);
  });
}

test('`encodeMessage` refuses a PUT_BATCH whose entry data differs from its size, and one of no entries', () => {
  const entry: BatchEntry = {
    size: 3,
    mtimeMs: 0,
    mode: 0,
    fileDigest: h(D1),
    path: 'a',
    data: Buffer.from('hi'),
  };
  assertCode(
    () => encodeMessage({ type: 'PUT_BATCH', ref: 1, overwrite: false, chunkBytes: 65536, entries: [entry] }),
    'MESSAGE_MALFORMED',
  );
  assertCode(
    () => encodeMessage({ type: 'PUT_BATCH', ref: 1, overwrite: false, chunkBytes: 65536, entries: [] }),
    'MESSAGE_MALFORMED',
  );
});

function randomEntry(random: SeededRandom, index: number): BatchEntry {
  const size = random.pick([0, 1, random.int(0, 4096), random.int(0, MAX_BATCH_FILE_BYTES)]);
  const data = random.bytes(size);
  return {
    size,
    mtimeMs: random.int(0, 2 ** 31) * 1000 + random.int(0, 999),
    mode: random.int(0, 0o7777),
    fileDigest: smallFileDigest(data, 65536),
    path: `d${random.int(0, 9)}/f${index}-${'é'.repeat(random.int(0, 20))}`,
    data,
  };
}

test('any PUT_BATCH packed to fit one record decodes to itself (seeded), and its length is what batchEntryBytes says', () => {
  const random = new SeededRandom(14);
  for (let round = 0; round < 60; round++) {
    const entries: BatchEntry[] = [];
    let bytes = PUT_BATCH_HEADER_BYTES;
    for (let i = 0; entries.length < MAX_BATCH_ENTRIES; i++) {
      const entry = randomEntry(random, i);
      if (bytes + batchEntryBytes(entry) > MAX_MESSAGE_BYTES) break;
      entries.push(entry);
      bytes += batchEntryBytes(entry);
    }
    const message: Message = {
      type: 'PUT_BATCH',
      ref: random.int(1, 2 ** 31),
      overwrite: random.next() < 0.5,
      chunkBytes: 65536,
      entries,
    };
    const encoded = encodeMessage(message);
    assert.equal(encoded.length, bytes);
    assert.deepEqual(decodeMessage(encoded), message);
  }
});

test('`decodeMessage` fed seeded random bodies after each batch type byte only ever throws FerryError', () => {
  const random = new SeededRandom(1914);
  for (const type of [0x19, 0x1a, 0x1b]) {
    for (let i = 0; i < 2000; i++) {
      const body = random.bytes(random.int(0, 120));
      // A plausible header now and then, so the decoder gets past the first checks.
      if (type === 0x19 && body.length > 12 && random.next() < 0.5) body.writeUInt32BE(1024, 5);
      try {
        decodeMessage(Buffer.concat([Buffer.from([type]), body]));
      } catch (err) {
        assert.ok(err instanceof FerryError, `not a FerryError: ${String(err)}`);
      }
    }
  }
});
