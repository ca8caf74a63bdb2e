import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { ErrorCode } from '../../src/errors/index.js';
import {
  GET_DATA_HEADER_BYTES,
  MAX_GET_DATA_BYTES,
  MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  writeGetDataHeader,
  writePutDataHeader,
  type GetRequestMessage,
  type Message,
} from '../../src/protocol/index.js';
import { ZERO32, assertFerryCode, hexBytes as h } from './message-assertions.js';

const AB32 = 'ab'.repeat(32);

// Wire vectors written out by hand from the table of PROTOCOL.md §5, checked in both directions.
const VECTORS: readonly [string, Message][] = [
  [
    `20 00000005 00010000 00 0000000000000000 ${ZERO32} 0000 0003 612f62`,
    {
      type: 'GET_REQUEST',
      ref: 5,
      chunkBytes: 64 * 1024,
      verifyOnly: false,
      heldSize: 0,
      haveDigest: Buffer.alloc(32),
      ranges: [],
      path: 'a/b',
    },
  ],
  [
    `20 00000005 00010000 00 0000000000040388 ${AB32} 0002 00000000 00000002 00000004 00000001 0001 61`,
    {
      type: 'GET_REQUEST',
      ref: 5,
      chunkBytes: 64 * 1024,
      verifyOnly: false,
      heldSize: 4 * 64 * 1024 + 904,
      haveDigest: Buffer.alloc(32, 0xab),
      ranges: [
        { first: 0, count: 2 },
        { first: 4, count: 1 },
      ],
      path: 'a',
    },
  ],
  [
    // VERIFY_ONLY (§5.11.1): the client states nothing about its file.
    `20 00000005 00010000 01 0000000000000000 ${ZERO32} 0000 0001 61`,
    {
      type: 'GET_REQUEST',
      ref: 5,
      chunkBytes: 64 * 1024,
      verifyOnly: true,
      heldSize: 0,
      haveDigest: Buffer.alloc(32),
      ranges: [],
      path: 'a',
    },
  ],
  // STRIPED (PROTOCOL.md §5.13.6): the stripe follows the path.
  [
    `20 00000005 00010000 02 0000000000000000 ${ZERO32} 0000 0001 61 01 03 0000000004000000`,
    {
      type: 'GET_REQUEST',
      ref: 5,
      chunkBytes: 64 * 1024,
      verifyOnly: false,
      heldSize: 0,
      haveDigest: Buffer.alloc(32),
      ranges: [],
      path: 'a',
      stripe: { index: 1, count: 3, minBytes: 64 * 1024 * 1024 },
    },
  ],
  [
    '21 00000005 0000000000000801 0000018bcfe56800 01a4 03',
    {
      type: 'GET_OFFER',
      ref: 5,
      size: 2049,
      mtimeMs: 1_700_000_000_000,
      mode: 0o644,
      heldAccepted: true,
      striped: true,
    },
  ],
  [
    '21 00000005 0000000000000801 0000018bcfe56800 01a4 01',
    { type: 'GET_OFFER', ref: 5, size: 2049, mtimeMs: 1_700_000_000_000, mode: 0o644, heldAccepted: true },
  ],
  // PATCH (PROTOCOL.md §5.17.4): the pieces follow the path; the offer says they apply.
  [
    `20 00000005 00010000 08 000000000000a000 ${AB32} 0001 00000000 00000001 0001 61 0002 0000000000000400 00000080 0000000000010000 00000010`,
    {
      type: 'GET_REQUEST',
      ref: 5,
      chunkBytes: 64 * 1024,
      verifyOnly: false,
      heldSize: 40960,
      haveDigest: Buffer.alloc(32, 0xab),
      ranges: [{ first: 0, count: 1 }],
      path: 'a',
      patch: [
        { offset: 1024, length: 128 },
        { offset: 65536, length: 16 },
      ],
    },
  ],
  [
    '21 00000005 0000000000000801 0000018bcfe56800 01a4 09',
    {
      type: 'GET_OFFER',
      ref: 5,
      size: 2049,
      mtimeMs: 1_700_000_000_000,
      mode: 0o644,
      heldAccepted: true,
      patched: true,
    },
  ],
  ['22 00000005 0000000000000400 abcd', { type: 'GET_DATA', ref: 5, offset: 1024, data: h('abcd') }],
  [`23 00000005 00000002 ${ZERO32}`, { type: 'GET_CHUNK', ref: 5, index: 2, chunkHash: Buffer.alloc(32) }],
  [`24 00000005 ${ZERO32}`, { type: 'GET_END', ref: 5, fileDigest: Buffer.alloc(32) }],
];

test('every download message matches its hand-written wire vector in both directions', () => {
  for (const [hex, message] of VECTORS) {
    assert.deepEqual(encodeMessage(message).toString('hex'), h(hex).toString('hex'), message.type);
    assert.deepEqual(decodeMessage(h(hex)), message, message.type);
  }
});

test('`decodeMessage` returns GET_DATA data as a view of its input, not a copy', () => {
  const bytes = h('22 00000001 0000000000000000 010203');
  const message = decodeMessage(bytes);
  assert.ok(message.type === 'GET_DATA');
  assert.equal(message.data.buffer, bytes.buffer);
  assert.equal(message.data.byteOffset, bytes.byteOffset + GET_DATA_HEADER_BYTES);
});

test('`writeGetDataHeader` writes the same 13 bytes `encodeMessage` puts before the data', () => {
  const data = Buffer.from('payload');
  const target = Buffer.alloc(5 + GET_DATA_HEADER_BYTES + data.length);
  const written = writeGetDataHeader(target, 5, 0xdeadbeef, 2 ** 40 + 3);
  assert.equal(written, GET_DATA_HEADER_BYTES);
  data.copy(target, 5 + written);
  const expected = encodeMessage({ type: 'GET_DATA', ref: 0xdeadbeef, offset: 2 ** 40 + 3, data });
  assert.deepEqual(target.subarray(5), expected);
});

test('`writeGetDataHeader` and `writePutDataHeader` differ only in the type byte', () => {
  const get = Buffer.alloc(GET_DATA_HEADER_BYTES);
  const put = Buffer.alloc(GET_DATA_HEADER_BYTES);
  writeGetDataHeader(get, 0, 7, 2 ** 52);
  writePutDataHeader(put, 0, 7, 2 ** 52);
  assert.equal(get[0], 0x22);
  assert.equal(put[0], 0x12);
  assert.deepEqual(get.subarray(1), put.subarray(1));
});

test('`writeGetDataHeader` refuses a header that does not fit, ref 0 and an unsafe offset', () => {
  assertFerryCode(() => writeGetDataHeader(Buffer.alloc(12), 0, 1, 0), 'INTERNAL');
  assertFerryCode(() => writeGetDataHeader(Buffer.alloc(20), 8, 1, 0), 'INTERNAL');
  assertFerryCode(() => writeGetDataHeader(Buffer.alloc(20), -1, 1, 0), 'INTERNAL');
  assertFerryCode(() => writeGetDataHeader(Buffer.alloc(20), 0, 0, 0), 'MESSAGE_MALFORMED');
  assertFerryCode(() => writeGetDataHeader(Buffer.alloc(20), 0, 1, 2 ** 53), 'MESSAGE_MALFORMED');
  assertFerryCode(() => writeGetDataHeader(Buffer.alloc(20), 0, 1, -1), 'MESSAGE_MALFORMED');
});

test('the largest GET_DATA fills a message exactly', () => {
  const bytes = encodeMessage({
    type: 'GET_DATA',
    ref: 1,
    offset: 0,
    data: Buffer.alloc(MAX_GET_DATA_BYTES),
  });
  assert.equal(bytes.length, MAX_MESSAGE_BYTES);
});

// GET_REQUEST fields in wire order, so each malformed case changes one field of a valid request.
function request(
  fields: Partial<Record<'ref' | 'chunk' | 'flags' | 'held' | 'digest' | 'ranges' | 'path', string>>,
): string {
  const f = {
    ref: '00000001',
    chunk: '00010000',
    flags: '00',
    held: '0000000000020000',
    digest: ZERO32,
    ranges: '0000',
    path: '0001 61',
    ...fields,
  };
  return `20 ${f.ref} ${f.chunk} ${f.flags} ${f.held} ${f.digest} ${f.ranges} ${f.path}`;
}

const MALFORMED: readonly [string, string, ErrorCode][] = [
  ['a GET_REQUEST with ref 0', request({ ref: '00000000' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST with chunkBytes 1000', request({ chunk: '000003e8' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST with chunkBytes 512', request({ chunk: '00000200' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST with chunkBytes 2^27', request({ chunk: '08000000' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST with reserved flag bits', request({ flags: '10' }), 'MESSAGE_MALFORMED'],
  // PATCH (PROTOCOL.md §5.17.4): 1 to 4096 pieces in order, apart, each inside one 64 KiB chunk.
  ['a PATCH GET_REQUEST without its pieces', request({ flags: '08' }), 'MESSAGE_MALFORMED'],
  ['a PATCH GET_REQUEST of no piece', request({ flags: '08', path: '0001 61 0000' }), 'MESSAGE_MALFORMED'],
  [
    'a PATCH GET_REQUEST whose piece crosses a chunk',
    request({ flags: '08', path: '0001 61 0001 000000000000ffff 00000002' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a PATCH GET_REQUEST whose pieces overlap',
    request({ flags: '08', path: '0001 61 0002 0000000000000010 00000010 0000000000000018 00000001' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a PATCH GET_REQUEST with a piece of 0 bytes',
    request({ flags: '08', path: '0001 61 0001 0000000000000010 00000000' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a PATCH GET_REQUEST of 128 KiB chunks',
    request({ flags: '08', chunk: '00020000', path: '0001 61 0001 0000000000000010 00000001' }),
    'MESSAGE_MALFORMED',
  ],
  ['a PATCH GET_REQUEST of 4097 pieces', request({ flags: '08', path: '0001 61 1001' }), 'MESSAGE_MALFORMED'],
  ['a STRIPED GET_REQUEST without its stripe', request({ flags: '02' }), 'MESSAGE_MALFORMED'],
  [
    'a STRIPED GET_REQUEST of 17 stripes',
    request({ flags: '02', path: '0001 61 00 11 0000000000000000' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a STRIPED GET_REQUEST of 1 stripe',
    request({ flags: '02', path: '0001 61 00 01 0000000000000000' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a STRIPED GET_REQUEST whose index is not below its count',
    request({ flags: '02', path: '0001 61 03 03 0000000000000000' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a STRIPED VERIFY_ONLY GET_REQUEST',
    request({
      flags: '03',
      held: '0000000000000400',
      digest: 'ab'.repeat(32),
      ranges: '0001 00000000 00000001',
      path: '0001 61 00 02 0000000000000000',
    }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a STRIPED GET_REQUEST with a trailing byte',
    request({ flags: '02', path: '0001 61 00 02 0000000000000000 00' }),
    'MESSAGE_MALFORMED',
  ],
  ['a GET_REQUEST heldSize above 2^53-1', request({ held: '0020000000000000' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST heldSize needing 2^32 chunks', request({ held: '0001000000000000' }), 'MESSAGE_MALFORMED'],
  [
    'a GET_REQUEST with a short haveDigest',
    request({ digest: '00'.repeat(31), ranges: '', path: '' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_REQUEST with more ranges than bytes',
    request({ digest: AB32, ranges: '0002 00000000 00000001', path: '' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_REQUEST with 4097 ranges',
    request({ held: '0000000100000000', digest: AB32, ranges: `1001 ${'0000000000000001'.repeat(4097)}` }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_REQUEST with an empty range',
    request({ digest: AB32, ranges: '0001 00000000 00000000' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_REQUEST with overlapping ranges',
    request({ digest: AB32, ranges: '0002 00000000 00000002 00000001 00000001' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_REQUEST range past the chunks of heldSize',
    request({ digest: AB32, ranges: '0001 00000001 00000002' }),
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_REQUEST range with heldSize 0',
    request({ held: '0000000000000000', digest: AB32, ranges: '0001 00000000 00000001' }),
    'MESSAGE_MALFORMED',
  ],
  ['a GET_REQUEST with a haveDigest but no ranges', request({ digest: AB32 }), 'MESSAGE_MALFORMED'],
  [
    'a VERIFY_ONLY GET_REQUEST stating held chunks (§5.11.1: it states nothing about the local file)',
    request({ flags: '01', digest: AB32, ranges: '0001 00000000 00000002' }),
    'MESSAGE_MALFORMED',
  ],
  ['a VERIFY_ONLY GET_REQUEST stating a size', request({ flags: '01' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST path over 4096 bytes', request({ path: `1001 ${'61'.repeat(4097)}` }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST path of invalid utf-8', request({ path: '0002 c328' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST without its path', request({ path: '' }), 'MESSAGE_MALFORMED'],
  ['a GET_REQUEST with a trailing byte', request({ path: '0001 61 00' }), 'MESSAGE_MALFORMED'],
  ['a GET_OFFER with ref 0', '21 00000000 0000000000000000 0000000000000000 01a4 00', 'MESSAGE_MALFORMED'],
  [
    'a GET_OFFER size above 2^53-1',
    '21 00000001 ffffffffffffffff 0000000000000000 01a4 00',
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_OFFER mode above 0o7777',
    '21 00000001 0000000000000000 0000000000000000 81a4 00',
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_OFFER with reserved flag bits',
    '21 00000001 0000000000000000 0000000000000000 01a4 10',
    'MESSAGE_MALFORMED',
  ],
  [
    'a GET_OFFER both PATCHED and SIGNATURE',
    '21 00000001 0000000000000000 0000000000000000 01a4 0c',
    'MESSAGE_MALFORMED',
  ],
  ['a GET_OFFER one byte short', '21 00000001 0000000000000000 0000000000000000 01a4', 'MESSAGE_MALFORMED'],
  [
    'a GET_OFFER with a trailing byte',
    '21 00000001 0000000000000000 0000000000000000 01a4 00 00',
    'MESSAGE_MALFORMED',
  ],
  ['a GET_DATA without data', '22 00000001 0000000000000000', 'MESSAGE_MALFORMED'],
  ['a GET_DATA with ref 0', '22 00000000 0000000000000000 00', 'MESSAGE_MALFORMED'],
  ['a GET_DATA offset above 2^53-1', '22 00000001 0020000000000000 00', 'MESSAGE_MALFORMED'],
  ['a GET_DATA ending past 2^53-1', '22 00000001 001fffffffffffff 00', 'MESSAGE_MALFORMED'],
  [
    'a GET_DATA longer than a record holds',
    `22 00000001 0000000000000000 ${'00'.repeat(MAX_GET_DATA_BYTES + 1)}`,
    'RECORD_TOO_LARGE',
  ],
  ['a GET_CHUNK one byte short', `23 00000001 00000000 ${'00'.repeat(31)}`, 'MESSAGE_MALFORMED'],
  ['a GET_CHUNK with index 2^32-1', `23 00000001 ffffffff ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a GET_CHUNK with ref 0', `23 00000000 00000000 ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a GET_END with ref 0', `24 00000000 ${ZERO32}`, 'MESSAGE_MALFORMED'],
  ['a GET_END with a trailing byte', `24 00000001 ${ZERO32} 00`, 'MESSAGE_MALFORMED'],
];

for (const [name, hex, code] of MALFORMED) {
  test(`\`decodeMessage\` refuses ${name} with ${code}`, () => {
    assertFerryCode(() => decodeMessage(h(hex)), code);
  });
}

function getRequest(fields: Partial<GetRequestMessage>): GetRequestMessage {
  return {
    type: 'GET_REQUEST',
    ref: 1,
    chunkBytes: 64 * 1024,
    verifyOnly: false,
    heldSize: 4096,
    haveDigest: Buffer.alloc(32),
    ranges: [],
    path: 'a',
    ...fields,
  };
}

const REFUSED_ENCODINGS: readonly [string, Message][] = [
  ['a GET_REQUEST with ref 0', getRequest({ ref: 0 })],
  ['a GET_REQUEST chunk size that is no power of two', getRequest({ chunkBytes: 3000 })],
  ['a GET_REQUEST chunk size of 2^27', getRequest({ chunkBytes: 2 ** 27 })],
  ['a GET_REQUEST heldSize of 2^53', getRequest({ heldSize: 2 ** 53, chunkBytes: 2 ** 26 })],
  ['a GET_REQUEST heldSize needing 2^32 chunks', getRequest({ heldSize: 2 ** 48 })],
  ['a GET_REQUEST haveDigest of 31 bytes', getRequest({ haveDigest: Buffer.alloc(31) })],
  ['a GET_REQUEST haveDigest without ranges', getRequest({ haveDigest: Buffer.alloc(32, 1) })],
  [
    'GET_REQUEST ranges out of order',
    getRequest({
      haveDigest: Buffer.alloc(32, 1),
      ranges: [
        { first: 2, count: 1 },
        { first: 0, count: 1 },
      ],
    }),
  ],
  [
    'GET_REQUEST ranges past the chunks of heldSize',
    getRequest({ haveDigest: Buffer.alloc(32, 1), ranges: [{ first: 3, count: 2 }] }),
  ],
  [
    '4097 GET_REQUEST ranges',
    getRequest({
      heldSize: 2 ** 40,
      haveDigest: Buffer.alloc(32, 1),
      ranges: Array.from({ length: 4097 }, (_, i) => ({ first: 2 * i, count: 1 })),
    }),
  ],
  [
    'a VERIFY_ONLY GET_REQUEST stating its held chunks',
    getRequest({ verifyOnly: true, haveDigest: Buffer.alloc(32, 1), ranges: [{ first: 0, count: 1 }] }),
  ],
  ['a VERIFY_ONLY GET_REQUEST stating its size', getRequest({ verifyOnly: true, heldSize: 100 })],
  ['a GET_REQUEST path over 4096 bytes', getRequest({ path: 'a'.repeat(4097) })],
  ['a GET_REQUEST path with a lone surrogate', getRequest({ path: 'a\ud800' })],
  [
    'a GET_OFFER with ref 0',
    { type: 'GET_OFFER', ref: 0, size: 0, mtimeMs: 0, mode: 0, heldAccepted: false },
  ],
  [
    'a GET_OFFER with a file type in its mode',
    { type: 'GET_OFFER', ref: 1, size: 0, mtimeMs: 0, mode: 0o100644, heldAccepted: false },
  ],
  [
    'a GET_OFFER of -1 bytes',
    { type: 'GET_OFFER', ref: 1, size: -1, mtimeMs: 0, mode: 0, heldAccepted: false },
  ],
  ['an empty GET_DATA', { type: 'GET_DATA', ref: 1, offset: 0, data: Buffer.alloc(0) }],
  [
    'a GET_DATA over one record',
    { type: 'GET_DATA', ref: 1, offset: 0, data: Buffer.alloc(MAX_GET_DATA_BYTES + 1) },
  ],
  [
    'a GET_DATA ending past 2^53-1',
    { type: 'GET_DATA', ref: 1, offset: Number.MAX_SAFE_INTEGER, data: Buffer.alloc(1) },
  ],
  ['a GET_DATA with ref 0', { type: 'GET_DATA', ref: 0, offset: 0, data: Buffer.alloc(1) }],
  [
    'a GET_CHUNK with index 2^32-1',
    { type: 'GET_CHUNK', ref: 1, index: 2 ** 32 - 1, chunkHash: Buffer.alloc(32) },
  ],
  ['a GET_END digest of 33 bytes', { type: 'GET_END', ref: 1, fileDigest: Buffer.alloc(33) }],
];

for (const [name, message] of REFUSED_ENCODINGS) {
  test(`\`encodeMessage\` refuses ${name}`, () => {
    assertFerryCode(() => encodeMessage(message), 'MESSAGE_MALFORMED');
  });
}
