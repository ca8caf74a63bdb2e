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
  chunkCount,
  chunkLength,
  fileDigest,
  haveDigest,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const sha256 = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

test('`fileDigest` of a small file matches a hand computation of PROTOCOL.md §7.2', () => {
  const file = new SeededRandom(7).bytes(2500);
  const hashes = [file.subarray(0, 1024), file.subarray(1024, 2048), file.subarray(2048)].map(sha256);
  // "ferry-digest-v1" || u64 size (2500 = 0x9c4) || u32 chunkBytes (1024 = 0x400) || h0 || h1 || h2
  const expected = sha256(
    Buffer.concat([
      Buffer.from('ferry-digest-v1'),
      Buffer.from('00000000000009c4', 'hex'),
      Buffer.from('00000400', 'hex'),
      ...hashes,
    ]),
  );
  assert.deepEqual(fileDigest(2500, 1024, hashes), expected);
});

test('`fileDigest` of an empty file hashes only the header', () => {
  const expected = sha256(
    Buffer.concat([Buffer.from('ferry-digest-v1'), Buffer.alloc(8), Buffer.from('00400000', 'hex')]),
  );
  assert.deepEqual(fileDigest(0, 4 * 1024 * 1024, []), expected);
});

test('`FileDigestBuilder` gives the same digest as `fileDigest` and checks the hash count', () => {
  const hashes = Array.from({ length: 5 }, (_, i) => sha256(Buffer.from([i])));
  const builder = new FileDigestBuilder(4 * 1024 + 1, 1024);
  for (const hash of hashes) builder.addChunkHash(hash);
  assert.deepEqual(builder.digest(), fileDigest(4 * 1024 + 1, 1024, hashes));
  assert.throws(() => builder.digest(), FerryError);

  const short = new FileDigestBuilder(4 * 1024 + 1, 1024);
  short.addChunkHash(hashes[0] as Buffer);
  assert.throws(() => short.digest(), FerryError);
  assert.throws(() => fileDigest(1024, 1024, hashes), FerryError);
  assert.throws(() => fileDigest(1024, 1024, [Buffer.alloc(31)]), FerryError);
});

test('`haveDigest` is SHA-256 of the concatenated hashes, or 32 zero bytes for none (PROTOCOL.md §5.4)', () => {
  const a = sha256(Buffer.from('a'));
  const b = sha256(Buffer.from('b'));
  assert.deepEqual(haveDigest([a, b]), sha256(Buffer.concat([a, b])));
  assert.deepEqual(haveDigest([]), Buffer.alloc(32));
});

test('`chunkCount` and `chunkLength` cut a file into full chunks and a shorter last one', () => {
  assert.equal(chunkCount(0, 1024), 0);
  assert.equal(chunkCount(1, 1024), 1);
  assert.equal(chunkCount(1024, 1024), 1);
  assert.equal(chunkCount(1025, 1024), 2);
  assert.equal(chunkCount(Number.MAX_SAFE_INTEGER, MAX_CHUNK_BYTES), 2 ** 27);
  assert.equal(chunkCount(MAX_CHUNK_COUNT * MIN_CHUNK_BYTES, MIN_CHUNK_BYTES), MAX_CHUNK_COUNT);
  assert.equal(chunkLength(0, 2500, 1024), 1024);
  assert.equal(chunkLength(2, 2500, 1024), 452);
  assert.equal(chunkLength(0, 1024, 1024), 1024);
  assert.equal(chunkLength(2 ** 27 - 1, Number.MAX_SAFE_INTEGER, MAX_CHUNK_BYTES), 2 ** 26 - 1);
});

test('`chunkLength` refuses an index past the last chunk with MESSAGE_MALFORMED', () => {
  const isMalformed = (err: unknown): boolean =>
    err instanceof FerryError && err.code === 'MESSAGE_MALFORMED';
  assert.throws(() => chunkLength(3, 2500, 1024), isMalformed);
  assert.throws(() => chunkLength(0, 0, 1024), isMalformed);
  assert.throws(() => chunkLength(-1, 2500, 1024), isMalformed);
});

test('`chunkCount` refuses a chunk size or file size the protocol does not allow', () => {
  assert.throws(() => chunkCount(10, 1000), FerryError);
  assert.throws(() => chunkCount(10, 512), FerryError);
  assert.throws(() => chunkCount(-1, 1024), FerryError);
  assert.throws(() => chunkCount(2 ** 53, MAX_CHUNK_BYTES), FerryError);
  assert.throws(() => chunkCount(MAX_CHUNK_COUNT * MIN_CHUNK_BYTES + 1, MIN_CHUNK_BYTES), FerryError);
});
