import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChunkHashes, fileDigest } from '../../src/protocol/index.js';
import { FileDigestMemo } from '../../src/server/file-digest-memo.js';

const CHUNK = 65536;
const ALICE = Buffer.alloc(32, 1);
const BOB = Buffer.alloc(32, 2);

/** A full table of `chunks` chunk hashes, each the SHA-256 of `seed` and its index. */
function table(seed: string, chunks: number): ChunkHashes {
  const hashes = new ChunkHashes(chunks * CHUNK, CHUNK);
  for (let i = 0; i < chunks; i++) hashes.set(i, createHash('sha256').update(`${seed}:${i}`).digest());
  return hashes;
}

const digestOfTable = (hashes: ChunkHashes): Buffer =>
  fileDigest(
    hashes.size,
    CHUNK,
    [...hashes.allChunks()].map((i) => hashes.get(i)!),
  );

test('FileDigestMemo answers an equal table from memory, for the same client only, and each table with its own digest', () => {
  const memo = new FileDigestMemo();
  assert.ok(memo.digestOf(ALICE, table('a', 300)).equals(digestOfTable(table('a', 300))));
  assert.equal(memo.hits, 0);
  // An equal table, another object (a claim's table after its signing's).
  assert.ok(memo.digestOf(ALICE, table('a', 300)).equals(digestOfTable(table('a', 300))));
  assert.equal(memo.hits, 1);
  // Another client's equal table is digested for it: one client's downloads tell another nothing.
  assert.ok(memo.digestOf(BOB, table('a', 300)).equals(digestOfTable(table('a', 300))));
  assert.equal(memo.hits, 1);
  // Of the same size and chunk size, one hash differing: its own digest.
  const other = table('a', 300);
  other.set(299, Buffer.alloc(32, 7));
  assert.ok(memo.digestOf(ALICE, other).equals(digestOfTable(other)));
  assert.equal(memo.hits, 1);
});

test('FileDigestMemo is bounded: the oldest table goes first', () => {
  const memo = new FileDigestMemo(2);
  for (const seed of ['a', 'b', 'c']) memo.digestOf(ALICE, table(seed, 3));
  memo.digestOf(ALICE, table('c', 3));
  memo.digestOf(ALICE, table('b', 3));
  assert.equal(memo.hits, 2);
  memo.digestOf(ALICE, table('a', 3));
  assert.equal(memo.hits, 2, 'a was forgotten');
});

test('FileDigestMemo remembers nothing of a table missing a hash: digest() says which', () => {
  const memo = new FileDigestMemo();
  const partial = new ChunkHashes(3 * CHUNK, CHUNK);
  partial.set(0, Buffer.alloc(32));
  assert.throws(() => memo.digestOf(ALICE, partial));
  assert.equal(memo.hits, 0);
});
