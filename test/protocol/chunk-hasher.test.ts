// ChunkHasher: the one definition of a chunk hash (PROTOCOL.md §7.2), tested with bytes alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChunkHasher, LEAF_BYTES, chunkHashOf } from '../../src/protocol/index.js';

const sha256 = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

/** RFC 6962 §2.1 MTH of `bytes` cut into LEAF_BYTES leaves, written as the RFC defines it (recursive split). */
function referenceChunkHash(bytes: Buffer): Buffer {
  const leaves = [sha256(Buffer.concat([Buffer.from([0]), bytes.subarray(0, LEAF_BYTES)]))];
  for (let at = LEAF_BYTES; at < bytes.length; at += LEAF_BYTES) {
    leaves.push(sha256(Buffer.concat([Buffer.from([0]), bytes.subarray(at, at + LEAF_BYTES)])));
  }
  const mth = (of: Buffer[]): Buffer => {
    if (of.length === 1) return of[0]!;
    let k = 1;
    while (k * 2 < of.length) k *= 2;
    return sha256(Buffer.concat([Buffer.from([1]), mth(of.slice(0, k)), mth(of.slice(k))]));
  };
  return mth(leaves);
}

const pattern = (n: number): Buffer => {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 7 + 3) & 0xff;
  return bytes;
};

test('ChunkHasher gives the same hash for any split of the chunk', () => {
  const bytes = pattern(70_001);
  const whole = chunkHashOf(bytes);
  assert.equal(whole.length, 32);
  for (const step of [1, 999, 4096, 16_384, 65_536, 70_000]) {
    const hasher = new ChunkHasher();
    for (let at = 0; at < bytes.length; at += step) hasher.update(bytes.subarray(at, at + step));
    assert.deepEqual(hasher.digest(), whole, `step ${step}`);
  }
});

test("a chunk hash is the RFC 6962 MTH of the chunk's LEAF_BYTES leaves (PROTOCOL.md §7.2)", () => {
  const L = LEAF_BYTES;
  for (const size of [0, 1, L - 1, L, L + 1, 3 * L, 4 * L, 5 * L + 7, 8 * L]) {
    const bytes = pattern(size);
    assert.deepEqual(chunkHashOf(bytes), referenceChunkHash(bytes), `${size} bytes`);
  }
  // One leaf is not the plain SHA-256 of the bytes: the 0x00 prefix separates leaves from nodes.
  assert.notDeepEqual(chunkHashOf(pattern(10)), sha256(pattern(10)));
});

test('ChunkHasher starts over after digest() and after reset()', () => {
  const hasher = new ChunkHasher();
  assert.deepEqual(hasher.update(pattern(100)).digest(), chunkHashOf(pattern(100)));
  assert.deepEqual(hasher.update(pattern(5)).digest(), chunkHashOf(pattern(5)));
  hasher.update(pattern(300)).reset();
  assert.deepEqual(hasher.update(pattern(7)).digest(), chunkHashOf(pattern(7)));
  assert.notDeepEqual(chunkHashOf(pattern(7)), chunkHashOf(pattern(8)));
});
