import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { FerryError } from '../../src/errors/index.js';
import {
  FileDigestBuilder,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MIN_CHUNK_BYTES,
  LEAF_BYTES,
  chunkCount,
  chunkHashOf,
  chunkLength,
  fileDigest,
  haveDigest,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const sha256 = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

/** The smallest chunk: one leaf. */
const C = MIN_CHUNK_BYTES;

const u64 = (n: number): Buffer => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(n));
  return bytes;
};
const leaf = (bytes: Buffer): Buffer => sha256(Buffer.concat([Buffer.from([0]), bytes]));
const node = (l: Buffer, r: Buffer): Buffer => sha256(Buffer.concat([Buffer.from([1]), l, r]));

test('`fileDigest` of a small file matches a hand computation of PROTOCOL.md §7.2', () => {
  const L = LEAF_BYTES;
  const size = 2 * L + 452;
  const file = new SeededRandom(7).bytes(size);
  const leaves = [file.subarray(0, L), file.subarray(L, 2 * L), file.subarray(2 * L)].map(leaf);
  // RFC 6962: three leaves split 2 + 1. "ferry-digest-v2" || u64 size || root.
  const root = node(node(leaves[0]!, leaves[1]!), leaves[2]!);
  const expected = sha256(Buffer.concat([Buffer.from('ferry-digest-v2'), u64(size), root]));
  // In one-leaf chunks the chunk hashes are the leaf hashes; in one four-leaf chunk the chunk hash is the root.
  assert.deepEqual(fileDigest(size, L, leaves), expected);
  assert.deepEqual(chunkHashOf(file), root);
  assert.deepEqual(fileDigest(size, 4 * L, [root]), expected);
  assert.deepEqual(fileDigest(size, 2 * L, [chunkHashOf(file.subarray(0, 2 * L)), leaves[2]!]), expected);
});

test('`fileDigest` of an empty file is over one empty leaf, whatever the chunk size', () => {
  const expected = sha256(Buffer.concat([Buffer.from('ferry-digest-v2'), u64(0), leaf(Buffer.alloc(0))]));
  assert.deepEqual(fileDigest(0, 4 * 1024 * 1024, []), expected);
  assert.deepEqual(fileDigest(0, LEAF_BYTES, []), expected);
  assert.deepEqual(chunkHashOf(Buffer.alloc(0)), leaf(Buffer.alloc(0)));
});

test('`FileDigestBuilder` gives the same digest as `fileDigest` and checks the hash count', () => {
  const hashes = Array.from({ length: 5 }, (_, i) => sha256(Buffer.from([i])));
  const builder = new FileDigestBuilder(4 * C + 1, C);
  for (const hash of hashes) builder.addChunkHash(hash);
  assert.deepEqual(builder.digest(), fileDigest(4 * C + 1, C, hashes));
  assert.throws(() => builder.digest(), FerryError);

  const short = new FileDigestBuilder(4 * C + 1, C);
  short.addChunkHash(hashes[0] as Buffer);
  assert.throws(() => short.digest(), FerryError);
  assert.throws(() => fileDigest(C, C, hashes), FerryError);
  assert.throws(() => fileDigest(C, C, [Buffer.alloc(31)]), FerryError);
});

test('`haveDigest` is SHA-256 of the concatenated hashes, or 32 zero bytes for none (PROTOCOL.md §5.4)', () => {
  const a = sha256(Buffer.from('a'));
  const b = sha256(Buffer.from('b'));
  assert.deepEqual(haveDigest([a, b]), sha256(Buffer.concat([a, b])));
  assert.deepEqual(haveDigest([]), Buffer.alloc(32));
});

test('`chunkCount` and `chunkLength` cut a file into full chunks and a shorter last one', () => {
  assert.equal(chunkCount(0, C), 0);
  assert.equal(chunkCount(1, C), 1);
  assert.equal(chunkCount(C, C), 1);
  assert.equal(chunkCount(C + 1, C), 2);
  assert.equal(chunkCount(Number.MAX_SAFE_INTEGER, MAX_CHUNK_BYTES), 2 ** 27);
  assert.equal(chunkCount(MAX_CHUNK_COUNT * MIN_CHUNK_BYTES, MIN_CHUNK_BYTES), MAX_CHUNK_COUNT);
  assert.equal(chunkLength(0, 2 * C + 452, C), C);
  assert.equal(chunkLength(2, 2 * C + 452, C), 452);
  assert.equal(chunkLength(0, C, C), C);
  assert.equal(chunkLength(2 ** 27 - 1, Number.MAX_SAFE_INTEGER, MAX_CHUNK_BYTES), 2 ** 26 - 1);
});

test('`chunkLength` refuses an index past the last chunk with MESSAGE_MALFORMED', () => {
  const isMalformed = (err: unknown): boolean =>
    err instanceof FerryError && err.code === 'MESSAGE_MALFORMED';
  assert.throws(() => chunkLength(3, 2 * C + 452, C), isMalformed);
  assert.throws(() => chunkLength(0, 0, C), isMalformed);
  assert.throws(() => chunkLength(-1, 2 * C + 452, C), isMalformed);
});

test('`chunkCount` refuses a chunk size or file size the protocol does not allow', () => {
  assert.throws(() => chunkCount(10, 1000), FerryError);
  assert.throws(() => chunkCount(10, 512), FerryError);
  assert.throws(() => chunkCount(10, LEAF_BYTES / 2), FerryError, 'a chunk is at least one leaf');
  assert.throws(() => chunkCount(-1, C), FerryError);
  assert.throws(() => chunkCount(2 ** 53, MAX_CHUNK_BYTES), FerryError);
  assert.throws(() => chunkCount(MAX_CHUNK_COUNT * MIN_CHUNK_BYTES + 1, MIN_CHUNK_BYTES), FerryError);
});

test('one file, one digest: the same content in every chunk size from one leaf to 2^26 has the same file digest', () => {
  // 5 leaves and 100 bytes; at 2^26 the whole file is one short chunk. This is what lets a sender raise the
  // chunk size for a large file (chunkBytesFor, PROTOCOL.md §10) without changing the digest `ferry digest` prints.
  const file = new SeededRandom(11).bytes(5 * LEAF_BYTES + 100);
  const digests = new Set<string>();
  for (let chunkBytes = MIN_CHUNK_BYTES; chunkBytes <= MAX_CHUNK_BYTES; chunkBytes *= 2) {
    const builder = new FileDigestBuilder(file.length, chunkBytes);
    for (let at = 0; at < file.length; at += chunkBytes) {
      builder.addChunkHash(chunkHashOf(file.subarray(at, at + chunkBytes)));
    }
    digests.add(builder.digest().toString('hex'));
  }
  assert.equal(digests.size, 1);
  file.writeUInt8(file[file.length - 1]! ^ 1, file.length - 1);
  assert.ok(!digests.has(fileDigest(file.length, MAX_CHUNK_BYTES, [chunkHashOf(file)]).toString('hex')));
});
