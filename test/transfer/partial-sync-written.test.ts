// PartialTransfer.syncWritten (a delta upload's server syncs the old leaves it placed while it still signs,
// issue 16): every byte written before it survives a crash, and it vouches for nothing: no chunk is held
// after the crash. Without it, the placed bytes are lost with the crash (the store's durable copy is all
// zeros), which is what shows the sync did the work. A real PartialTransfer over the memory store, whose
// crash() keeps only what was made durable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LEAF_BYTES } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';

const SIZE = 4 * LEAF_BYTES;
const HEADER = { size: SIZE, mtimeMs: 0, chunkBytes: 2 * LEAF_BYTES };

async function placedThenCrashed(sync: boolean): Promise<{ bytes: Buffer; placed: Buffer; held: number }> {
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', { ...HEADER, fresh: true });
  const placed = randomBytes(2 * LEAF_BYTES);
  await partial.placeUnverified(LEAF_BYTES, [placed.subarray(0, LEAF_BYTES), placed.subarray(LEAF_BYTES)]);
  if (sync) await partial.syncWritten();
  store.crash();
  const reopened = await PartialTransfer.open(store, 'k', { ...HEADER, fresh: false });
  try {
    const stored = await store.open('k', HEADER, { fresh: false, keepLog: true });
    const bytes = Buffer.alloc(placed.length);
    await stored.read(LEAF_BYTES, bytes);
    await stored.close();
    return { bytes, placed, held: reopened.verifiedBytes };
  } finally {
    await reopened.close();
  }
}

test('syncWritten: the bytes placed before it survive a crash, and no chunk counts as held', async () => {
  const synced = await placedThenCrashed(true);
  assert.ok(synced.bytes.equals(synced.placed), 'the placed bytes are durable');
  assert.equal(synced.held, 0, 'nothing vouched for');
  const unsynced = await placedThenCrashed(false);
  assert.ok(!unsynced.bytes.equals(unsynced.placed), 'without the sync the crash loses them');
  assert.equal(unsynced.held, 0);
});
