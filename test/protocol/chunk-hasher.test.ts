// ChunkHasher: the one definition of a chunk hash (PROTOCOL.md §7.2), tested with bytes alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkHasher, chunkHashOf } from '../../src/protocol/index.js';

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

test('ChunkHasher starts over after digest() and after reset()', () => {
  const hasher = new ChunkHasher();
  assert.deepEqual(hasher.update(pattern(100)).digest(), chunkHashOf(pattern(100)));
  assert.deepEqual(hasher.update(pattern(5)).digest(), chunkHashOf(pattern(5)));
  hasher.update(pattern(300)).reset();
  assert.deepEqual(hasher.update(pattern(7)).digest(), chunkHashOf(pattern(7)));
  assert.notDeepEqual(chunkHashOf(pattern(7)), chunkHashOf(pattern(8)));
});
