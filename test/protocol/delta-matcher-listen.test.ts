// DeltaMatcher.listen (PROTOCOL.md §5.15): the delta upload's streamer listens per chunk to reuse the leaf
// hashes the matcher computes (leaf hints); the listener it sets must be the one told, with the hash of the
// very bytes found, and nobody once it is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { LEAF_BYTES } from '../../src/protocol/constants.js';
import { deltaSignatureOf } from '../../src/protocol/delta-signature.js';
import { DeltaMatcher } from '../../src/protocol/delta-matcher.js';
import { leafHash } from '../../src/protocol/merkle-tree-hash.js';

test('listen replaces the listener, reports each found leaf with its leaf hash, and undefined silences it', () => {
  const old = randomBytes(6 * LEAF_BYTES);
  // Old blocks 0..5 shifted by 100 inserted bytes: every block is found, none at a leaf boundary.
  const file = Buffer.concat([randomBytes(100), old]);
  const fromConstructor: number[] = [];
  const matcher = new DeltaMatcher(deltaSignatureOf(old), (block) => fromConstructor.push(block));
  const heard: Array<{ block: number; offset: number }> = [];
  matcher.listen((block, offset, hash) => {
    assert.deepEqual(hash, leafHash(file.subarray(offset, offset + LEAF_BYTES)), `block ${block}`);
    heard.push({ block, offset });
  });
  const half = 100 + 3 * LEAF_BYTES;
  const first = matcher.scan(file, 0, 0, half);
  assert.deepEqual(
    heard,
    [0, 1, 2].map((block) => ({ block, offset: 100 + block * LEAF_BYTES })),
  );
  assert.deepEqual(fromConstructor, []);
  matcher.listen(undefined);
  const second = matcher.scan(file, 0, first.next, file.length, true);
  assert.equal(heard.length, 3, 'nobody is told once the listener is removed');
  assert.deepEqual(
    second.ops.filter((op) => op.oldOffset >= 0).map((op) => op.oldOffset),
    [3 * LEAF_BYTES],
    'the rest is still found',
  );
});
