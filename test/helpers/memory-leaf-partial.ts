import { LEAF_BYTES } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';

/**
 * A fresh partial of `size` bytes in leaves, in memory (the port's conformance-tested store), each leaf made
 * durable as it is verified: what a delta download's scan writes into, for tests of the scan alone.
 */
export function memoryLeafPartial(size: number): Promise<PartialTransfer<string>> {
  return PartialTransfer.open(new MemoryPartialStore<string>(), 'k', {
    size,
    mtimeMs: 0,
    chunkBytes: LEAF_BYTES,
    fresh: true,
    durableBatchBytes: LEAF_BYTES,
  });
}
