import type { Buffer } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';

/**
 * The hash of one chunk (PROTOCOL.md §7.2), fed incrementally: any split of the chunk's bytes into `update`
 * calls gives the same `digest()`. This is the one definition of a chunk hash; nothing else hashes file data.
 * Reusable: `digest()` leaves the hasher ready for the next chunk, and `reset()` drops a chunk half fed.
 */
export class ChunkHasher {
  #hash: Hash = createHash('sha256');

  /** Feeds the next bytes of the chunk. */
  update(bytes: Uint8Array): this {
    this.#hash.update(bytes);
    return this;
  }

  /** The chunk hash of every byte fed since the last `digest()` or `reset()`; the hasher starts over. */
  digest(): Buffer {
    const result = this.#hash.digest();
    this.#hash = createHash('sha256');
    return result;
  }

  /** Drops the bytes fed so far, e.g. when a chunk is abandoned half written. */
  reset(): void {
    this.#hash = createHash('sha256');
  }
}

/** The chunk hash of `bytes`, a whole chunk (PROTOCOL.md §7.2). */
export function chunkHashOf(bytes: Uint8Array): Buffer {
  return new ChunkHasher().update(bytes).digest();
}
