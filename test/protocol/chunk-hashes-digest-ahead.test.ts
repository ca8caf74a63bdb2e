// ChunkHashes with `digestAhead` (issue 16): the subtree root of every whole block of 256 chunks is taken as
// its last hash is set, so the file digest before a rename hashes only what was set since. The digest must be
// §7.2's whatever the order hashes come in, however many chunks the file has, and after hashes are replaced
// (a block's root taken again). Checked against `fileDigest` over the same hashes, with bytes alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChunkHashes, FileDigestBuilder, LEAF_BYTES, fileDigest } from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const hashOf = (tag: string): Buffer => createHash('sha256').update(tag).digest();

test('a table that digests ahead gives §7.2’s digest, in any order, with hashes replaced', () => {
  const random = new SeededRandom(16);
  // Around whole blocks of 256 chunks: fewer than two (no block kept), exactly some, one more, many.
  for (const count of [1, 255, 256, 511, 512, 513, 767, 1024, 1025, 4100]) {
    const size = count * LEAF_BYTES - (count % 3);
    const table = new ChunkHashes(size, LEAF_BYTES, { digestAhead: true });
    const hashes = Array.from({ length: table.count }, (_, i) => hashOf(`${count}:${i}`));
    const order = hashes.map((_, i) => i).sort(() => random.uint32() - 2 ** 31);
    for (const index of order) table.set(index, hashes[index]!);
    assert.deepEqual(table.digest(), fileDigest(size, LEAF_BYTES, hashes), `${count} chunks`);
    // A hash replaced in a block whose root was taken: the digest is over the new hash.
    for (const index of [0, Math.floor(table.count / 2), table.count - 1]) {
      hashes[index] = hashOf(`again ${count}:${index}`);
      table.set(index, hashes[index]);
      assert.deepEqual(
        table.digest(),
        fileDigest(size, LEAF_BYTES, hashes),
        `${count} chunks, ${index} set again`,
      );
    }
  }
});

test('a table that digests ahead still names the missing hash', () => {
  const table = new ChunkHashes(600 * LEAF_BYTES, LEAF_BYTES, { digestAhead: true });
  for (let i = 0; i < 599; i++) table.set(i, hashOf(String(i)));
  assert.throws(() => table.digest(), /599 known/);
});

test('FileDigestBuilder takes an aligned subtree only', () => {
  const builder = new FileDigestBuilder(1024 * LEAF_BYTES, LEAF_BYTES);
  builder.addChunkHash(hashOf('first'));
  assert.throws(() => builder.addSubtree(hashOf('root'), 256), /not aligned/);
  assert.throws(() => builder.addSubtree(hashOf('root'), 3), /not aligned/);
});
