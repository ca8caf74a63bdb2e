// The delta upload's wire (PROTOCOL.md §5.15): DELTA_BLOCKS, PUT_COPY and the DELTA flags, refused when
// malformed, byte by byte. Round trips of valid messages are in messages.test.ts (message-samples.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { decodeMessage, encodeMessage } from '../../src/protocol/index.js';

const malformed = { code: 'MESSAGE_MALFORMED' };

const HEADER = 1 + 4 + 8 + 4 + 4 + 2;

function signature(
  ref: number,
  oldSize: number,
  firstBlock: number,
  count: number,
  blockBytes = BLOCK,
): Buffer {
  const body = Buffer.alloc(HEADER + count * 20);
  body[0] = 0x1c;
  body.writeUInt32BE(ref, 1);
  body.writeBigUInt64BE(BigInt(oldSize), 5);
  body.writeUInt32BE(blockBytes, 13);
  body.writeUInt32BE(firstBlock, 17);
  body.writeUInt16BE(count, 21);
  return body;
}

const BLOCK = 65_536;

test('DELTA_BLOCKS layout: type 0x1C, u32 ref, u64 oldSize, u32 blockBytes, u32 firstBlock, u16 count, count × (u32 weak, b16 strong)', () => {
  const bytes = signature(5, 2 * BLOCK + 1, 1, 2);
  bytes.writeUInt32BE(0xdeadbeef, HEADER);
  bytes.fill(0x11, HEADER + 4, HEADER + 20);
  const message = decodeMessage(bytes);
  assert.equal(message.type, 'DELTA_BLOCKS');
  if (message.type !== 'DELTA_BLOCKS') return;
  assert.deepEqual(
    [message.ref, message.oldSize, message.blockBytes, message.firstBlock],
    [5, 2 * BLOCK + 1, BLOCK, 1],
  );
  assert.deepEqual([...message.weak], [0xdeadbeef, 0]);
  assert.deepEqual(message.strong.subarray(0, 16), Buffer.alloc(16, 0x11));
  assert.deepEqual(encodeMessage(message), bytes);
});

test('DELTA_BLOCKS refuses: no blocks, more than 2048, past the old file, more than 2^18 blocks, ref 0, short or long', () => {
  const three = 2 * BLOCK + 1; // three blocks, the last of one byte
  assert.doesNotThrow(() => decodeMessage(signature(5, three, 2, 1)));
  assert.throws(() => decodeMessage(signature(5, three, 0, 0)), malformed);
  assert.throws(() => decodeMessage(signature(5, 4096 * BLOCK, 0, 2049)), malformed);
  assert.throws(() => decodeMessage(signature(5, three, 2, 2)), malformed);
  assert.throws(() => decodeMessage(signature(5, 2 ** 18 * BLOCK + 1, 0, 1)), malformed);
  assert.throws(() => decodeMessage(signature(5, 0, 0, 1)), malformed);
  assert.throws(() => decodeMessage(signature(0, three, 0, 1)), malformed);
  assert.throws(() => decodeMessage(signature(5, three, 0, 2).subarray(0, 40)), malformed);
  assert.throws(() => decodeMessage(Buffer.concat([signature(5, three, 0, 1), Buffer.alloc(1)])), malformed);
});

test('DELTA_BLOCKS blockBytes: a multiple of 64 from 1 KiB to 64 KiB, and it sets the block count', () => {
  // 20 KiB in 1 KiB blocks: 20 blocks; in 64 KiB blocks: 1.
  assert.doesNotThrow(() => decodeMessage(signature(5, 20 * 1024, 19, 1, 1024)));
  assert.throws(() => decodeMessage(signature(5, 20 * 1024, 19, 1, BLOCK)), malformed);
  assert.doesNotThrow(() => decodeMessage(signature(5, 20 * 1024, 0, 1, 20 * 1024 + 64)));
  for (const bad of [0, 64, 1023, 1024 + 32, BLOCK + 64, 2 * BLOCK])
    assert.throws(() => decodeMessage(signature(5, 20 * 1024, 0, 1, bad)), malformed, `blockBytes ${bad}`);
});

function copy(offset: number, oldOffset: number, length: number): Buffer {
  const bytes = Buffer.alloc(1 + 24);
  bytes[0] = 0x1d;
  bytes.writeUInt32BE(7, 1);
  bytes.writeBigUInt64BE(BigInt(offset), 5);
  bytes.writeBigUInt64BE(BigInt(oldOffset), 13);
  bytes.writeUInt32BE(length, 21);
  return bytes;
}

test('PUT_COPY layout: type 0x1D, u32 ref, u64 offset, u64 oldOffset, u32 length; length 1 to 2^26', () => {
  assert.deepEqual(decodeMessage(copy(65_536, 3, 100)), {
    type: 'PUT_COPY',
    ref: 7,
    offset: 65_536,
    oldOffset: 3,
    length: 100,
  });
  assert.throws(() => decodeMessage(copy(0, 0, 0)), malformed);
  assert.throws(() => decodeMessage(copy(0, 0, 2 ** 26 + 1)), malformed);
  assert.throws(() => decodeMessage(copy(Number.MAX_SAFE_INTEGER, 0, 2)), malformed);
  assert.throws(() => decodeMessage(copy(0, 0, 1).subarray(0, 24)), malformed);
});

test('DELTA flags: PUT_OFFER bit 3 only with OVERWRITE; PUT_ACCEPT bit 2 never with EXISTING', () => {
  const offer = encodeMessage({
    type: 'PUT_OFFER',
    ref: 1,
    size: 10,
    mtimeMs: 0,
    chunkBytes: 65_536,
    mode: 0o644,
    overwrite: true,
    fresh: false,
    delta: true,
    path: 'a',
  });
  const flagsAt = 1 + 4 + 8 + 8 + 4 + 2;
  assert.equal(offer[flagsAt], 0x09);
  const noOverwrite = Buffer.from(offer);
  noOverwrite[flagsAt] = 0x08;
  assert.throws(() => decodeMessage(noOverwrite), malformed);
  const accept = encodeMessage({
    type: 'PUT_ACCEPT',
    ref: 1,
    restarted: false,
    existing: false,
    delta: true,
    haveDigest: Buffer.alloc(32),
    joinToken: Buffer.alloc(16),
    ranges: [],
  });
  assert.equal(accept[5], 0x04);
  const withExisting = Buffer.from(accept);
  withExisting[5] = 0x06;
  assert.throws(() => decodeMessage(withExisting), malformed);
  withExisting[5] = 0x08;
  assert.throws(() => decodeMessage(withExisting), malformed);
});
