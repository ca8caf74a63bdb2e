// verifyLoggedChunks: a partial's log is checked against its bytes, never trusted (PROTOCOL.md §9.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryPartialStore, verifyLoggedChunks } from '../../src/transfer/index.js';
import { chunkHashOf } from '../../src/protocol/index.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const SIZE = 2 * CHUNK_BYTES + 500; // three chunks, the last one 500 bytes

function hashOf(bytes: Buffer): Buffer {
  return chunkHashOf(bytes);
}

test('verifyLoggedChunks keeps the last entry of a chunk, and drops a chunk whose bytes are cut short', async () => {
  const content = randomBytes(SIZE);
  const store = new MemoryPartialStore();
  const header = { size: SIZE, mtimeMs: 0, chunkBytes: CHUNK_BYTES };
  const partial = await store.open('k', header, { fresh: false, keepLog: true });
  await partial.write(0, content);
  const right = (i: number): Buffer => hashOf(content.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
  const wrong = Buffer.alloc(32, 0xee);
  const logged = [
    { index: 0, hash: wrong },
    { index: 0, hash: right(0) }, // a later entry corrects an earlier one
    { index: 1, hash: right(1) },
    { index: 1, hash: wrong }, // ... and a later wrong one wins too
    { index: 2, hash: right(2) },
  ];
  assert.deepEqual(
    (await verifyLoggedChunks(partial, logged, header)).map((e) => e.index),
    [0, 2],
  );
  // Bytes that end before the chunk does: chunk 2 of a file one byte longer is never complete here, even
  // under the hash its bytes would have with the missing byte a zero.
  const longer = { ...header, size: SIZE + 1 };
  const padded = hashOf(Buffer.concat([content.subarray(2 * CHUNK_BYTES), Buffer.alloc(1)]));
  assert.deepEqual(await verifyLoggedChunks(partial, [{ index: 2, hash: padded }], longer), []);
  await partial.close();
});

test('verifyLoggedChunks checks chunks longer than one read, through a store that returns short reads', async () => {
  // 2 MiB chunks are read in 1 MiB pieces, each while the one before is hashed; this store gives at most
  // 100,000 bytes per read, so every piece takes several.
  const chunkBytes = 2 * 1024 * 1024;
  const size = 2 * chunkBytes + 300 * 1024;
  const content = randomBytes(size);
  const store = new MemoryPartialStore();
  const header = { size, mtimeMs: 0, chunkBytes };
  const partial = await store.open('k', header, { fresh: false, keepLog: true });
  await partial.write(0, content);
  const logged = [0, 1, 2].map((index) => ({
    index,
    hash: hashOf(content.subarray(index * chunkBytes, (index + 1) * chunkBytes)),
  }));
  const shortReads = {
    read: (offset: number, into: Buffer): Promise<number> =>
      partial.read(offset, into.subarray(0, Math.min(into.length, 100_000))),
    close: (): Promise<void> => Promise.resolve(),
  };
  const kept = await verifyLoggedChunks(shortReads, logged, header);
  assert.deepEqual(
    kept.map((e) => e.index),
    [0, 1, 2],
  );
  assert.ok(kept.every((e, k) => e.hash.equals(logged[k]!.hash)));
  // One byte changed in the second piece of chunk 1: only that chunk is dropped.
  await partial.write(
    chunkBytes + 1024 * 1024 + 7,
    Buffer.from([content[chunkBytes + 1024 * 1024 + 7]! ^ 1]),
  );
  assert.deepEqual(
    (await verifyLoggedChunks(shortReads, logged, header)).map((e) => e.index),
    [0, 2],
  );
  await partial.close();
});
