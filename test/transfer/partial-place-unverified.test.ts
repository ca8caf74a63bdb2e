// PartialTransfer.placeUnverified while other chunks are verified (issue 16: a same-size delta upload's server
// places old leaves while it serves the session, so chunks before them may be verified meanwhile): placing
// beside a verified chunk is allowed, over one refused, so placing can never change bytes already verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LEAF_BYTES, chunkHashOf } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';

const CHUNK = 2 * LEAF_BYTES;
const SIZE = 3 * CHUNK;

test('placeUnverified places beside a verified chunk and refuses to place over one', async () => {
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
  });
  try {
    const first = randomBytes(CHUNK);
    await partial.writeData(0, first);
    partial.completeChunk(0, chunkHashOf(first));
    const placed = randomBytes(LEAF_BYTES);
    await partial.placeUnverified(CHUNK, [placed]);
    await assert.rejects(partial.placeUnverified(CHUNK - LEAF_BYTES, [placed, placed]), {
      code: 'INTERNAL',
      message: /over a verified chunk/,
    });
    const found = await store.inspect('k');
    const bytes = Buffer.alloc(CHUNK);
    await found!.reader.read(0, bytes);
    await found!.reader.close();
    assert.ok(bytes.equals(first), 'the verified chunk is as verified');
  } finally {
    await partial.close();
  }
});
