import assert from 'node:assert/strict';
import { LEAF_BYTES, leafHash, type ChunkHashes } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';

/**
 * A fresh partial of a `size`-byte download in chunks of one leaf, in memory, what a delta download's scan
 * places found leaves into; each leaf durable once written unless `durableBatchBytes` says otherwise.
 */
export async function freshLeafPartial(
  size: number,
  durableBatchBytes = LEAF_BYTES,
): Promise<{ store: MemoryPartialStore<string>; partial: PartialTransfer<string> }> {
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', {
    size,
    mtimeMs: 0,
    chunkBytes: LEAF_BYTES,
    fresh: true,
    durableBatchBytes,
  });
  return { store, partial };
}

/**
 * Reads back the partial `store` holds (`freshLeafPartial`'s, closed) and checks that every leaf `held`
 * holds the bytes its hash is of, and that those are `served`'s: a delta scan counts no leaf it did not
 * write from the bytes it hashed.
 */
export async function assertHeldLeaves(
  store: MemoryPartialStore<string>,
  held: ChunkHashes,
  served: Buffer,
): Promise<void> {
  const found = await store.inspect('k');
  assert.ok(found, 'the partial is kept');
  const bytes = Buffer.alloc(served.length);
  await found.reader.read(0, bytes);
  await found.reader.close();
  for (const { index, hash } of held.entries()) {
    const at = index * LEAF_BYTES;
    const leaf = bytes.subarray(at, Math.min(at + LEAF_BYTES, served.length));
    assert.ok(leafHash(leaf).equals(hash), `leaf ${index}: the partial holds the bytes of its hash`);
    assert.ok(leaf.equals(served.subarray(at, at + leaf.length)), `leaf ${index} is the served leaf`);
  }
}
