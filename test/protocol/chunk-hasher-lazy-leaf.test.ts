// ChunkHasher makes its split-leaf buffer only when a leaf is split across updates: the hashes must not
// depend on whether it exists yet (empty chunk, whole leaves only, whole leaves then split ones, reuse).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LEAF_BYTES } from '../../src/protocol/constants.js';
import { ChunkHasher } from '../../src/protocol/chunk-hasher.js';
import { leafHash, nodeHash } from '../../src/protocol/merkle-tree-hash.js';

test('an empty chunk is the RFC 6962 empty leaf hash, with or without the split-leaf buffer made', () => {
  const emptyLeaf = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'; // SHA-256(0x00)
  const hasher = new ChunkHasher();
  assert.equal(hasher.digest().toString('hex'), emptyLeaf);
  hasher.update(randomBytes(10)).digest(); // the buffer now exists
  assert.equal(hasher.digest().toString('hex'), emptyLeaf);
});

test('whole leaves, then a leaf split across updates, give the tree of the leaf hashes', () => {
  const bytes = randomBytes(2 * LEAF_BYTES + 100);
  const expected = nodeHash(
    nodeHash(leafHash(bytes.subarray(0, LEAF_BYTES)), leafHash(bytes.subarray(LEAF_BYTES, 2 * LEAF_BYTES))),
    leafHash(bytes.subarray(2 * LEAF_BYTES)),
  );
  const hasher = new ChunkHasher();
  assert.deepEqual(hasher.update(bytes).digest(), expected);
  const split = 2 * LEAF_BYTES + 37;
  assert.deepEqual(hasher.update(bytes.subarray(0, split)).update(bytes.subarray(split)).digest(), expected);
  assert.deepEqual(
    new ChunkHasher().update(bytes.subarray(0, LEAF_BYTES)).digest(),
    leafHash(bytes.subarray(0, LEAF_BYTES)),
  );
});
