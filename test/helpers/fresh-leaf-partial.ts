import { LEAF_BYTES } from '../../src/protocol/index.js';
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
