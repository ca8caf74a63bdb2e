// ChunkHashes: one file's chunk-hash table (PROTOCOL.md §5.4, §7.2), tested with bytes alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  ChunkHashes,
  ChunkSet,
  HASH_BYTES,
  MIN_CHUNK_BYTES,
  chunkHashOf,
  chunkLength,
  fileDigest,
  haveDigest,
} from '../../src/protocol/index.js';
import { bytePattern } from '../helpers/byte-pattern.js';
import type { FileDigestVector } from '../vectors/vector-json.js';

/** The smallest chunk: one leaf (PROTOCOL.md §7.2). */
const C = MIN_CHUNK_BYTES;

const vectors = (
  JSON.parse(readFileSync(new URL('../vectors/ferry-file-digests.json', import.meta.url), 'utf8')) as {
    vectors: FileDigestVector[];
  }
).vectors;

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();
const hashN = (n: number): Buffer => sha256(Buffer.from([n]));

test('ChunkHashes digest and haveDigest equal the ferry-file-digests.json vectors and fileDigest/haveDigest', () => {
  assert.ok(vectors.length >= 3);
  for (const v of vectors) {
    const content = bytePattern(v.size);
    const hashes = new ChunkHashes(v.size, v.chunkBytes);
    assert.equal(hashes.count, v.chunkHashes.length, v.name);
    // Set in reverse order: the table orders by index, not by arrival (parallel streams, §5.13).
    for (let i = hashes.count - 1; i >= 0; i--) {
      const at = i * v.chunkBytes;
      hashes.set(i, chunkHashOf(content.subarray(at, at + chunkLength(i, v.size, v.chunkBytes))));
    }
    const list = v.chunkHashes.map((h) => Buffer.from(h, 'hex'));
    assert.equal(hashes.digest().toString('hex'), v.fileDigest, v.name);
    assert.ok(hashes.digest().equals(fileDigest(v.size, v.chunkBytes, list)), v.name);
    assert.equal(hashes.haveDigest().toString('hex'), v.haveDigest, v.name);
    assert.equal(hashes.knownBytes(), v.size, v.name);
  }
});

test('ChunkHashes get returns the 32 bytes set for a chunk, undefined for a chunk never set, and copies on set', () => {
  const hashes = new ChunkHashes(3 * C + 10, C);
  assert.equal(hashes.count, 4);
  assert.equal(hashes.get(2), undefined);
  const hash = hashN(2);
  hashes.set(2, hash);
  hash.fill(0); // the caller reuses its buffer: the table keeps what was set
  assert.ok(hashes.get(2)!.equals(hashN(2)));
  assert.equal(hashes.get(2)!.length, HASH_BYTES);
  assert.equal(hashes.has(2), true);
  assert.equal(hashes.has(1), false);
  assert.equal(hashes.knownCount, 1);
  hashes.set(2, hashN(7));
  assert.ok(hashes.get(2)!.equals(hashN(7)), 'a chunk set again holds its new hash');
  assert.equal(hashes.knownCount, 1);
});

test('ChunkHashes refuses a hash of the wrong length or for an index outside the file, as INTERNAL', () => {
  const hashes = new ChunkHashes(2 * C, C);
  assert.throws(() => hashes.set(0, Buffer.alloc(31)), { code: 'INTERNAL' });
  assert.throws(() => hashes.set(2, hashN(0)), { code: 'INTERNAL' });
  assert.throws(() => hashes.set(-1, hashN(0)), { code: 'INTERNAL' });
  assert.throws(() => hashes.set(0.5, hashN(0)), { code: 'INTERNAL' });
  assert.equal(hashes.knownCount, 0);
});

test('ChunkHashes gives no file digest while a chunk hash is missing', () => {
  const hashes = new ChunkHashes(2 * C, C);
  hashes.set(0, hashN(0));
  assert.throws(() => hashes.digest(), { code: 'INTERNAL', message: /all 2 chunk hashes, 1 known/ });
  hashes.set(1, hashN(1));
  assert.ok(hashes.digest().equals(fileDigest(2 * C, C, [hashN(0), hashN(1)])));
});

test('ChunkHashes haveDigest covers the held chunks in index order, across gaps, and is zero when none are held', () => {
  const hashes = new ChunkHashes(10 * C - 1, C);
  assert.ok(hashes.haveDigest().equals(Buffer.alloc(HASH_BYTES)));
  for (const i of [7, 1, 2, 9, 5]) hashes.set(i, hashN(i));
  assert.ok(hashes.haveDigest().equals(haveDigest([1, 2, 5, 7, 9].map(hashN))));
  assert.deepEqual(hashes.knownRanges(), [
    { first: 1, count: 2 },
    { first: 5, count: 1 },
    { first: 7, count: 1 },
    { first: 9, count: 1 },
  ]);
  const some = ChunkSet.fromRanges(hashes.count, [
    { first: 1, count: 2 },
    { first: 9, count: 1 },
  ]);
  assert.ok(hashes.haveDigest(some).equals(haveDigest([1, 2, 9].map(hashN))));
  assert.throws(() => hashes.haveDigest(ChunkSet.fromRanges(hashes.count, [{ first: 3, count: 1 }])), {
    code: 'INTERNAL',
  });
});

test('ChunkHashes counts held bytes with the short last chunk once', () => {
  const hashes = new ChunkHashes(3 * C + 10, C);
  assert.equal(hashes.knownBytes(), 0);
  hashes.set(3, hashN(3));
  assert.equal(hashes.knownBytes(), 10);
  hashes.set(0, hashN(0));
  assert.equal(hashes.knownBytes(), C + 10);
  assert.equal(hashes.bytesOf([1, 2]), 2 * C);
  assert.equal(hashes.lengthOf(3), 10);
  assert.equal(hashes.bytesOf(hashes.allChunks()), 3 * C + 10);
  assert.deepEqual(
    [...hashes.entries()].map((e) => [e.index, e.hash.toString('hex')]),
    [0, 3].map((i) => [i, hashN(i).toString('hex')]),
  );
});

test('ChunkHashes.of builds a table from entries; an empty file has no chunks, a full digest and a zero held digest', () => {
  const table = ChunkHashes.of(2 * C, C, [
    { index: 1, hash: hashN(1) },
    { index: 0, hash: hashN(0) },
  ]);
  assert.ok(table.digest().equals(fileDigest(2 * C, C, [hashN(0), hashN(1)])));
  assert.equal(ChunkHashes.tableBytes(2 * C, C), 2 * HASH_BYTES);
  const empty = new ChunkHashes(0, C);
  assert.equal(empty.count, 0);
  assert.equal(empty.allChunks().count, 0);
  assert.ok(empty.digest().equals(fileDigest(0, C, [])));
  assert.ok(empty.haveDigest().equals(Buffer.alloc(HASH_BYTES)));
});

test('ChunkHashes copyFrom, unknownOf and bytesOf of a set answer as chunk-by-chunk get, has and lengthOf do', () => {
  // 16,384 leaves and a bit: a delta download's claim of a 1 GiB file, with a short last chunk.
  const size = 16_384 * C + 1000;
  const from = new ChunkHashes(size, C);
  for (let i = 0; i < from.count; i++) if (i % 977 !== 5) from.set(i, hashN(i % 251));
  const claimed = ChunkSet.fromRanges(from.count, [
    { first: 0, count: 1000 },
    { first: 1016, count: 7000 },
    { first: 8100, count: from.count - 8100 },
  ]);
  const unknown = from.unknownOf(claimed);
  assert.deepEqual(
    [...unknown],
    [...claimed].filter((i) => !from.has(i)),
  );
  let bytes = 0;
  for (const i of claimed) bytes += from.lengthOf(i);
  assert.equal(from.bytesOf(claimed), bytes);
  assert.equal(from.bytesOf([...claimed]), bytes);
  for (const digestAhead of [false, true]) {
    const into = new ChunkHashes(size, C, { digestAhead });
    into.copyFrom(from, claimed.without(unknown));
    assert.equal(into.knownCount, claimed.count - unknown.count);
    for (const i of claimed) assert.deepEqual(into.get(i), unknown.has(i) ? undefined : from.get(i));
  }
  // Every hash copied must be known there, and the layouts must match.
  assert.throws(() => new ChunkHashes(size, C).copyFrom(from, claimed), { code: 'INTERNAL' });
  assert.throws(() => new ChunkHashes(size, 2 * C).copyFrom(from, new ChunkSet(0)), { code: 'INTERNAL' });
});

test('ChunkHashes copyTableTo writes every hash in index order, and refuses a table not whole', () => {
  const hashes = ChunkHashes.of(
    3 * C,
    C,
    [0, 1, 2].map((i) => ({ index: i, hash: hashN(i) })),
  );
  const out = Buffer.alloc(4 + 3 * HASH_BYTES);
  assert.equal(hashes.copyTableTo(out, 4), 3 * HASH_BYTES);
  assert.deepEqual(out.subarray(4), Buffer.concat([hashN(0), hashN(1), hashN(2)]));
  assert.throws(() => new ChunkHashes(3 * C, C).copyTableTo(out, 0), { code: 'INTERNAL' });
});
