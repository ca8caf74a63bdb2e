import { LEAF_BYTES, noteLeafHash, type KnownLeafHash } from '../protocol/index.js';

/**
 * The leaf hashes `hashes` (`wholeLeaves`) of the chunk at `start` read into `window`: noted for the
 * chunk hash (leaf hints) and returned for the matcher. Taken over these very bytes, which stay as they are
 * until the chunk is sent or kept for later (its hints then forgotten), so no identity check is needed.
 */
export function boundaryLeaves(
  window: Buffer,
  start: number,
  hashes: Buffer | undefined,
): KnownLeafHash | undefined {
  if (hashes === undefined) return undefined;
  const count = hashes.length / 32;
  for (let i = 0; i < count; i++)
    noteLeafHash(
      window.buffer,
      window.byteOffset + i * LEAF_BYTES,
      Buffer.from(hashes.subarray(32 * i, 32 * i + 32)),
    );
  return (offset) => {
    const i = (offset - start) / LEAF_BYTES;
    return Number.isInteger(i) && i >= 0 && i < count
      ? Buffer.from(hashes.subarray(32 * i, 32 * i + 32))
      : undefined;
  };
}
