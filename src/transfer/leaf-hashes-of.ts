import { LEAF_BYTES, leafHash } from '../protocol/index.js';
import { LEAF_HASH_THREAD } from './leaf-hash-thread.js';

/**
 * The leaf hashes of every leaf of `bytes` (whole leaves from its start, the last one may be short), 32 bytes
 * each in order: the whole leaves on the leaf hash thread, which reads them in place from shared memory
 * (`LeafHashThread.wholeLeaves`), while the caller's thread does other work; a short last leaf here, and
 * every leaf here should the thread fail or the memory not be shared. For a delta's signing pieces
 * (`signLeaves`) and the new file hashed ahead (`LeafHashesAhead`).
 */
export async function leafHashesOf(bytes: Buffer): Promise<Buffer> {
  const count = Math.ceil(bytes.length / LEAF_BYTES);
  const threaded = await LEAF_HASH_THREAD.wholeLeaves(bytes);
  if (threaded !== undefined && threaded.length === 32 * count) return threaded;
  const done = threaded === undefined ? 0 : threaded.length / 32;
  const out = Buffer.allocUnsafe(32 * count);
  threaded?.copy(out);
  for (let leaf = done; leaf < count; leaf++)
    leafHash(bytes.subarray(leaf * LEAF_BYTES, Math.min(bytes.length, (leaf + 1) * LEAF_BYTES))).copy(
      out,
      32 * leaf,
    );
  return out;
}
