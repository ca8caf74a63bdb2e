import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { ErrorCode } from '../../src/errors/index.js';
import {
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
  MAX_PUT_DATA_BYTES,
  PUT_DATA_HEADER_BYTES,
  decodeMessage,
  encodeMessage,
  writePutDataHeader,
  type Message,
} from '../../src/protocol/index.js';
import { ZERO32, assertFerryCode as assertCode, hexBytes as h } from './message-assertions.js';
import { SAMPLE_MESSAGES } from './message-samples.js';

test('`decodeMessage(encodeMessage(m))` gives back every sample message, boundaries included', () => {
  for (const message of SAMPLE_MESSAGES) {
    const bytes = encodeMessage(message);
    assert.ok(bytes.length <= MAX_MESSAGE_BYTES, `${message.type} is ${bytes.length} bytes`);
    assert.deepEqual(decodeMessage(bytes), message);
  }
});

test('the longest PUT_OFFER path and the largest PUT_DATA fill a message exactly to its limits', () => {
  const offer = SAMPLE_MESSAGES.find((m) => m.type === 'PUT_OFFER' && m.size === Number.MAX_SAFE_INTEGER);
  assert.ok(offer?.type === 'PUT_OFFER');
  assert.equal(Buffer.byteLength(offer.path), MAX_PATH_BYTES);
  const data = SAMPLE_MESSAGES.find((m) => m.type === 'PUT_DATA' && m.data.length === MAX_PUT_DATA_BYTES);
  assert.ok(data !== undefined);
  assert.equal(encodeMessage(data).length, MAX_MESSAGE_BYTES);
});

/** A PUT_OFFER with OVERWRITE, the base of the vectors that add flags to it. */
const OVERWRITE_OFFER: Message = {
  type: 'PUT_OFFER',
  ref: 5,
  size: 2049,
  mtimeMs: 1_700_000_000_000,
  chunkBytes: 64 * 1024,
  mode: 0o644,
  overwrite: true,
  fresh: false,
  path: 'a/b',
};

// Wire vectors written out by hand from the tables of PROTOCOL.md §5, checked in both directions.
const VECTORS: readonly [string, Message][] = [
  ['01 00000000 0303 0003 626164', { type: 'ERROR', ref: 0, code: 0x0303, detail: 'bad' }],
  ['02 03 0000000100000000', { type: 'WELCOME', permissions: 3, maxFileBytes: 2 ** 32 }],
  ['10 00000005 0000000000000801 0000018bcfe56800 00010000 01a4 01 0003 612f62', OVERWRITE_OFFER],
  [
    `11 00000005 01 ${ZERO32} ${'5a'.repeat(16)} 0002 00000000 00000002 00000004 00000001`,
    {
      type: 'PUT_ACCEPT',
      ref: 5,
      restarted: true,
      existing: false,
      haveDigest: Buffer.alloc(32),
      joinToken: Buffer.alloc(16, 0x5a),
      ranges: [
        { first: 0, count: 2 },
        { first: 4, count: 1 },
      ],
    },
  ],
  [
    `11 00000006 02 ${'ab'.repeat(32)} ${'00'.repeat(16)} 0001 00000000 00000003`,
    {
      type: 'PUT_ACCEPT',
      ref: 6,
      restarted: false,
      existing: true,
      haveDigest: Buffer.alloc(32, 0xab),
      joinToken: Buffer.alloc(16),
      ranges: [{ first: 0, count: 3 }],
    },
  ],
  ['12 00000005 0000000000000400 abcd', { type: 'PUT_DATA', ref: 5, offset: 1024, data: h('abcd') }],
  [`13 00000005 00000002 ${ZERO32}`, { type: 'PUT_CHUNK', ref: 5, index: 2, chunkHash: Buffer.alloc(32) }],
  [`14 00000005 ${ZERO32}`, { type: 'PUT_END', ref: 5, fileDigest: Buffer.alloc(32) }],
  [`15 00000005 00 ${ZERO32}`, { type: 'PUT_DONE', ref: 5, identical: false, fileDigest: Buffer.alloc(32) }],
  [`15 00000005 01 ${ZERO32}`, { type: 'PUT_DONE', ref: 5, identical: true, fileDigest: Buffer.alloc(32) }],
  ['16 00000005 001fffffffffffff', { type: 'PROGRESS', ref: 5, verifiedBytes: Number.MAX_SAFE_INTEGER }],
  ['03 00000007', { type: 'ACK', ref: 7 }],
  ['04 00000007', { type: 'CANCEL', ref: 7 }],
  ['06', { type: 'KEEPALIVE' }],
  [
    '17 00000005 01ed 0000018bcfe56800 0003 612f62',
    { type: 'PUT_DIR', ref: 5, mode: 0o755, mtimeMs: 1_700_000_000_000, path: 'a/b' },
  ],
  [
    '18 00000005 01 0000018bcfe56800 0005 2e2e2f6364 0003 612f62',
    { type: 'PUT_LINK', ref: 5, overwrite: true, mtimeMs: 1_700_000_000_000, target: '../cd', path: 'a/b' },
  ],
  // PUT_OFFER (§5.3) flags 0x31: OVERWRITE, REPLACE_DIR and bit 5 NOT_UTF8, which asks for the names that are
  // not UTF-8 below the replaced directory too; PUT_LINK's (§5.10) 0x07 the same with its bit 2.
  [
    '10 00000005 0000000000000801 0000018bcfe56800 00010000 01a4 31 0003 612f62',
    { ...OVERWRITE_OFFER, replaceDir: true, notUtf8: true },
  ],
  [
    '18 00000005 07 0000018bcfe56800 0001 78 0003 612f62',
    {
      type: 'PUT_LINK',
      ref: 5,
      overwrite: true,
      replaceDir: true,
      notUtf8: true,
      mtimeMs: 1_700_000_000_000,
      target: 'x',
      path: 'a/b',
    },
  ],
  // REMOVE_REQUEST (§5.16): `u8 flags` after the ref; bit 0 NOT_UTF8 asks for names that are not UTF-8 too.
  ['34 00000005 00 0003 612f62', { type: 'REMOVE_REQUEST', ref: 5, path: 'a/b' }],
  ['34 00000005 01 0003 612f62', { type: 'REMOVE_REQUEST', ref: 5, notUtf8: true, path: 'a/b' }],
];

test('every message type matches its hand-written wire vector in both directions', () => {
  for (const [hex, message] of VECTORS) {
    assert.deepEqual(encodeMessage(message).toString('hex'), h(hex).toString('hex'), message.type);
    assert.deepEqual(decodeMessage(h(hex)), message, message.type);
  }
});

test('`decodeMessage` returns PUT_DATA data as a view of its input, not a copy', () => {
  const bytes = h('12 00000001 0000000000000000 010203');
  const message = decodeMessage(bytes);
  assert.ok(message.type === 'PUT_DATA');
  assert.equal(message.data.buffer, bytes.buffer);
  assert.equal(message.data.byteOffset, bytes.byteOffset + PUT_DATA_HEADER_BYTES);
});

test('`writePutDataHeader` writes the same 13 bytes `encodeMessage` puts before the data', () => {
  const data = Buffer.from('payload');
  const target = Buffer.alloc(5 + PUT_DATA_HEADER_BYTES + data.length);
  const written = writePutDataHeader(target, 5, 0xdeadbeef, 2 ** 40 + 3);
  assert.equal(written, PUT_DATA_HEADER_BYTES);
  data.copy(target, 5 + written);
  const expected = encodeMessage({ type: 'PUT_DATA', ref: 0xdeadbeef, offset: 2 ** 40 + 3, data });
  assert.deepEqual(target.subarray(5), expected);
});

test('`writePutDataHeader` refuses a header that does not fit, ref 0 and an unsafe offset', () => {
  assertCode(() => writePutDataHeader(Buffer.alloc(12), 0, 1, 0), 'INTERNAL');
  assertCode(() => writePutDataHeader(Buffer.alloc(20), 8, 1, 0), 'INTERNAL');
  assertCode(() => writePutDataHeader(Buffer.alloc(20), 0, 0, 0), 'MESSAGE_MALFORMED');
  assertCode(() => writePutDataHeader(Buffer.alloc(20), 0, 1, 2 ** 53), 'MESSAGE_MALFORMED');
});

const MALFORMED: readonly [string, string, ErrorCode][] = [
  ['an empty message', '', 'MESSAGE_MALFORMED'],
  ['type 0x00', '00 00000001', 'MESSAGE_MALFORMED'],
  ['unassigned type 0x05', '05 00000001', 'MESSAGE_MALFORMED'],
  ['unassigned type 0x0f', '0f 00000001', 'MESSAGE_MALFORMED'],
  ['unassigned type 0x19', '19 00000001', 'MESSAGE_MALFORMED'],
  ['unassigned type 0x25', '25 00000001', 'MESSAGE_MALFORMED'],
  ['unassigned type 0x33', '33 00000001', 'MESSAGE_MALFORMED'],
  ['type 0xff', 'ff 00000001', 'MESSAGE_MALFORMED'],
  ['an ACK without its ref', '03', 'MESSAGE_MALFORMED'],
  ['an ACK with ref 0', '03 00000000', 'MESSAGE_MALFORMED'],
  ['an ACK with a trailing byte', '03 00000001 00', 'MESSAGE_MALFORMED'],
  ['a CANCEL with ref 0', '04 00000000', 'MESSAGE_MALFORMED'],
  ['a CANCEL one byte short', '04 000001', 'MESSAGE_MALFORMED'],
  ['a KEEPALIVE with a byte of body (§5.18: empty)', '06 00', 'MESSAGE_MALFORMED'],
  ['a truncated ERROR', '01 00000000 03', 'MESSAGE_MALFORMED'],
  ['an ERROR whose detail length runs past the end', '01 00000000 0303 0004 626164', 'MESSAGE_MALFORMED'],
  ['an ERROR with a trailing byte', '01 00000000 0303 0003 626164 00', 'MESSAGE_MALFORMED'],
  ['an ERROR with invalid utf-8', '01 00000000 0303 0002 c328', 'MESSAGE_MALFORMED'],
  ['an ERROR with an overlong utf-8 encoding', '01 00000000 0303 0002 c0af', 'MESSAGE_MALFORMED'],
  ['an ERROR with a utf-8 surrogate', '01 00000000 0303 0003 eda080', 'MESSAGE_MALFORMED'],
  ['an ERROR detail over 1024 bytes', `01 00000000 0303 0401 ${'61'.repeat(1025)}`, 'MESSAGE_MALFORMED'],
  ['a WELCOME with unknown permission bits', '02 04 0000000000000000', 'MESSAGE_MALFORMED'],
  ['a WELCOME limit above 2^53-1', '02 01 0020000000000000', 'MESSAGE_MALFORMED'],
  ['a WELCOME one byte short', '02 01 00000000000000', 'MESSAGE_MALFORMED'],
  [
    'a PUT_OFFER with ref 0',
    '10 00000000 0000000000000000 0000000000000000 00010000 01a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER size above 2^53-1',
    '10 00000001 ffffffffffffffff 0000000000000000 00010000 01a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with chunkBytes 1000',
    '10 00000001 0000000000000000 0000000000000000 000003e8 01a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with chunkBytes 512',
    '10 00000001 0000000000000000 0000000000000000 00000200 01a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with chunkBytes 2^27',
    '10 00000001 0000000000000000 0000000000000000 08000000 01a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER needing 2^32 chunks',
    '10 00000001 0001000000000000 0000000000000000 00010000 01a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with reserved flag bits',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 08 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with REPLACE_DIR without OVERWRITE',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 10 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with REPLACE_DIR and DELTA',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 19 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with NOT_UTF8 without REPLACE_DIR',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 21 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with reserved flag bit 6',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 71 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with JOIN and FRESH together',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 06 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER mode above 0o7777',
    '10 00000001 0000000000000000 0000000000000000 00000400 81a4 00 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER path over 4096 bytes',
    `10 00000001 0000000000000000 0000000000000000 00010000 01a4 00 1001 ${'61'.repeat(4097)}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_OFFER with a trailing byte',
    '10 00000001 0000000000000000 0000000000000000 00010000 01a4 00 0001 61 00',
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_ACCEPT with reserved flag bit 2', `11 00000001 04 ${ZERO32} 0000`, 'MESSAGE_MALFORMED'],
  ['a PUT_ACCEPT with reserved flag bit 7', `11 00000001 83 ${ZERO32} 0000`, 'MESSAGE_MALFORMED'],
  ['a PUT_ACCEPT with ref 0', `11 00000000 00 ${ZERO32} 0000`, 'MESSAGE_MALFORMED'],
  [
    'a PUT_ACCEPT with more ranges than bytes',
    `11 00000001 00 ${ZERO32} 0002 00000000 00000001`,
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_ACCEPT with a short haveDigest', `11 00000001 00 ${'00'.repeat(31)}`, 'MESSAGE_MALFORMED'],
  [
    'a PUT_ACCEPT with 4097 ranges',
    `11 00000001 00 ${ZERO32} 1001 ${'0000000000000001'.repeat(4097)}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_ACCEPT with an empty range',
    `11 00000001 00 ${ZERO32} 0001 00000003 00000000`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_ACCEPT with descending ranges',
    `11 00000001 00 ${ZERO32} 0002 00000005 00000001 00000001 00000001`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_ACCEPT with overlapping ranges',
    `11 00000001 00 ${ZERO32} 0002 00000000 00000003 00000002 00000001`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_ACCEPT range past chunk 2^32-2',
    `11 00000001 00 ${ZERO32} 0001 fffffffe 00000002`,
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_DATA without data', '12 00000001 0000000000000000', 'MESSAGE_MALFORMED'],
  ['a PUT_DATA with ref 0', '12 00000000 0000000000000000 00', 'MESSAGE_MALFORMED'],
  ['a PUT_DATA offset above 2^53-1', '12 00000001 0020000000000000 00', 'MESSAGE_MALFORMED'],
  ['a PUT_DATA ending past 2^53-1', '12 00000001 001fffffffffffff 00', 'MESSAGE_MALFORMED'],
  ['a PUT_CHUNK one byte short', `13 00000001 00000000 ${'00'.repeat(31)}`, 'MESSAGE_MALFORMED'],
  ['a PUT_CHUNK with index 2^32-1', `13 00000001 ffffffff ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a PUT_END with a trailing byte', `14 00000001 ${ZERO32} 00`, 'MESSAGE_MALFORMED'],
  ['a PUT_DONE with reserved flag bit 2', `15 00000001 04 ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a PUT_DONE with reserved flag bit 7', `15 00000001 81 ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a PUT_DONE with ref 0', `15 00000000 00 ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a PROGRESS with ref 0', '16 00000000 0000000000000000', 'MESSAGE_MALFORMED'],
  ['a PROGRESS above 2^53-1', '16 00000001 8000000000000000', 'MESSAGE_MALFORMED'],
  ['a PUT_DIR with ref 0', '17 00000000 01ed 0000000000000000 0001 61', 'MESSAGE_MALFORMED'],
  ['a PUT_DIR mode above 0o7777', '17 00000001 41ed 0000000000000000 0001 61', 'MESSAGE_MALFORMED'],
  ['a PUT_DIR mtime above 2^53-1', '17 00000001 01ed 0020000000000000 0001 61', 'MESSAGE_MALFORMED'],
  [
    'a PUT_DIR path over 4096 bytes',
    `17 00000001 01ed 0000000000000000 1001 ${'61'.repeat(4097)}`,
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_DIR path cut short', '17 00000001 01ed 0000000000000000 0002 61', 'MESSAGE_MALFORMED'],
  ['a PUT_DIR with a trailing byte', '17 00000001 01ed 0000000000000000 0001 61 00', 'MESSAGE_MALFORMED'],
  ['a PUT_LINK with ref 0', '18 00000000 00 0000000000000000 0001 62 0001 61', 'MESSAGE_MALFORMED'],
  [
    'a PUT_LINK with reserved flag bits',
    '18 00000001 0f 0000000000000000 0001 62 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_LINK with NOT_UTF8 without REPLACE_DIR',
    '18 00000001 05 0000000000000000 0001 62 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_LINK with REPLACE_DIR and NOT_UTF8 without OVERWRITE',
    '18 00000001 06 0000000000000000 0001 62 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_LINK with REPLACE_DIR without OVERWRITE',
    '18 00000001 02 0000000000000000 0001 62 0001 61',
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_LINK with an empty target', '18 00000001 00 0000000000000000 0000 0001 61', 'MESSAGE_MALFORMED'],
  [
    'a PUT_LINK target with a NUL',
    '18 00000001 00 0000000000000000 0003 620063 0001 61',
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_LINK target over 4096 bytes',
    `18 00000001 00 0000000000000000 1001 ${'62'.repeat(4097)} 0001 61`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a PUT_LINK target of invalid utf-8',
    '18 00000001 00 0000000000000000 0001 ff 0001 61',
    'MESSAGE_MALFORMED',
  ],
  ['a PUT_LINK without its path', '18 00000001 00 0000000000000000 0001 62', 'MESSAGE_MALFORMED'],
  [
    'a PUT_LINK with a trailing byte',
    '18 00000001 00 0000000000000000 0001 62 0001 61 00',
    'MESSAGE_MALFORMED',
  ],
  ['a REMOVE_REQUEST with reserved flag bits', '34 00000001 02 0001 61', 'MESSAGE_MALFORMED'],
  // The layout before NOT_UTF8 (no flags byte): refused, so no server removes on a guess at what was meant.
  ['a REMOVE_REQUEST without its flags', '34 00000001 0001 61', 'MESSAGE_MALFORMED'],
  [
    'a message longer than a record holds',
    `12 00000001 0000000000000000 ${'00'.repeat(MAX_PUT_DATA_BYTES + 1)}`,
    'RECORD_TOO_LARGE',
  ],
];

for (const [name, hex, code] of MALFORMED) {
  test(`\`decodeMessage\` refuses ${name} with ${code}`, () => {
    assertCode(() => decodeMessage(h(hex)), code);
  });
}

test('`decodeMessage` keeps a leading byte-order mark in a string instead of dropping it', () => {
  const message = decodeMessage(h('01 00000000 0303 0004 efbbbf61'));
  assert.ok(message.type === 'ERROR');
  assert.equal(message.detail, '\ufeffa');
});

const REFUSED_ENCODINGS: readonly [string, Message][] = [
  ['an ERROR detail over 1024 bytes', { type: 'ERROR', ref: 0, code: 1, detail: 'x'.repeat(1025) }],
  ['an ERROR detail with a lone surrogate', { type: 'ERROR', ref: 0, code: 1, detail: 'a\ud800' }],
  ['an ERROR code above 0xffff', { type: 'ERROR', ref: 0, code: 0x10000, detail: '' }],
  ['a negative ERROR ref', { type: 'ERROR', ref: -1, code: 1, detail: '' }],
  ['WELCOME permission bit 2', { type: 'WELCOME', permissions: 4, maxFileBytes: 0 }],
  ['a fractional WELCOME limit', { type: 'WELCOME', permissions: 1, maxFileBytes: 1.5 }],
  [
    'a PUT_OFFER chunk size that is no power of two',
    {
      type: 'PUT_OFFER',
      ref: 1,
      size: 1,
      mtimeMs: 0,
      chunkBytes: 3000,
      mode: 0,
      overwrite: false,
      fresh: false,
      path: 'a',
    },
  ],
  [
    'a PUT_OFFER with 2^53 bytes',
    {
      type: 'PUT_OFFER',
      ref: 1,
      size: 2 ** 53,
      mtimeMs: 0,
      chunkBytes: 2 ** 26,
      mode: 0,
      overwrite: false,
      fresh: false,
      path: 'a',
    },
  ],
  [
    'a PUT_OFFER with a file type in its mode',
    {
      type: 'PUT_OFFER',
      ref: 1,
      size: 1,
      mtimeMs: 0,
      chunkBytes: 64 * 1024,
      mode: 0o100644,
      overwrite: false,
      fresh: false,
      path: 'a',
    },
  ],
  [
    'a PUT_OFFER path over 4096 bytes',
    {
      type: 'PUT_OFFER',
      ref: 1,
      size: 1,
      mtimeMs: 0,
      chunkBytes: 64 * 1024,
      mode: 0,
      overwrite: false,
      fresh: false,
      path: 'a'.repeat(4097),
    },
  ],
  [
    'a PUT_ACCEPT digest of 31 bytes',
    {
      type: 'PUT_ACCEPT',
      ref: 1,
      restarted: false,
      existing: false,
      haveDigest: Buffer.alloc(31),
      joinToken: Buffer.alloc(16),
      ranges: [],
    },
  ],
  [
    'PUT_ACCEPT ranges out of order',
    {
      type: 'PUT_ACCEPT',
      ref: 1,
      restarted: false,
      existing: true,
      haveDigest: Buffer.alloc(32),
      joinToken: Buffer.alloc(16),
      ranges: [
        { first: 4, count: 1 },
        { first: 0, count: 1 },
      ],
    },
  ],
  ['an empty PUT_DATA', { type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.alloc(0) }],
  [
    'a PUT_DATA over one record',
    { type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.alloc(MAX_PUT_DATA_BYTES + 1) },
  ],
  ['a PUT_CHUNK with ref 0', { type: 'PUT_CHUNK', ref: 0, index: 0, chunkHash: Buffer.alloc(32) }],
  ['a PUT_END digest of 33 bytes', { type: 'PUT_END', ref: 1, fileDigest: Buffer.alloc(33) }],
  ['a PROGRESS of -1 bytes', { type: 'PROGRESS', ref: 1, verifiedBytes: -1 }],
  ['an ACK with ref 0', { type: 'ACK', ref: 0 }],
  ['a CANCEL with ref 2^32', { type: 'CANCEL', ref: 2 ** 32 }],
  ['a PUT_DONE with ref 0', { type: 'PUT_DONE', ref: 0, identical: true, fileDigest: Buffer.alloc(32) }],
  [
    'a PUT_DIR with a file type in its mode',
    { type: 'PUT_DIR', ref: 1, mode: 0o40755, mtimeMs: 0, path: 'a' },
  ],
  ['a PUT_DIR with ref 0', { type: 'PUT_DIR', ref: 0, mode: 0o755, mtimeMs: 0, path: 'a' }],
  [
    'a PUT_DIR path over 4096 bytes',
    { type: 'PUT_DIR', ref: 1, mode: 0, mtimeMs: 0, path: 'a'.repeat(4097) },
  ],
  ['a PUT_DIR path with a lone surrogate', { type: 'PUT_DIR', ref: 1, mode: 0, mtimeMs: 0, path: '\udc00' }],
  ['a PUT_DIR mtime of 2^53', { type: 'PUT_DIR', ref: 1, mode: 0, mtimeMs: 2 ** 53, path: 'a' }],
  [
    'a PUT_LINK with an empty target',
    { type: 'PUT_LINK', ref: 1, overwrite: false, mtimeMs: 0, target: '', path: 'a' },
  ],
  [
    'a PUT_LINK target with a NUL',
    { type: 'PUT_LINK', ref: 1, overwrite: false, mtimeMs: 0, target: 'b\u0000c', path: 'a' },
  ],
  [
    'a PUT_LINK target over 4096 bytes',
    { type: 'PUT_LINK', ref: 1, overwrite: false, mtimeMs: 0, target: 'é'.repeat(2049), path: 'a' },
  ],
  [
    'a PUT_LINK target with a lone surrogate',
    { type: 'PUT_LINK', ref: 1, overwrite: false, mtimeMs: 0, target: '\ud800b', path: 'a' },
  ],
  [
    'a PUT_LINK with ref 0',
    { type: 'PUT_LINK', ref: 0, overwrite: true, mtimeMs: 0, target: 'b', path: 'a' },
  ],
  [
    'a PUT_LINK with NOT_UTF8 without REPLACE_DIR',
    { type: 'PUT_LINK', ref: 1, overwrite: true, notUtf8: true, mtimeMs: 0, target: 'b', path: 'a' },
  ],
  ['a PUT_OFFER with NOT_UTF8 without REPLACE_DIR', { ...OVERWRITE_OFFER, notUtf8: true }],
];

for (const [name, message] of REFUSED_ENCODINGS) {
  test(`\`encodeMessage\` refuses ${name}`, () => {
    assertCode(() => encodeMessage(message), 'MESSAGE_MALFORMED');
  });
}

test('`encodeMessage` refuses an unknown type', () => {
  assertCode(() => encodeMessage({ type: 'NOPE' } as unknown as Message), 'MESSAGE_MALFORMED');
});
