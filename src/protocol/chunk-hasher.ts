import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { LEAF_BYTES } from './constants.js';
import { FerryError } from '../errors/index.js';
import { takeLeafHash } from './leaf-hints.js';
import { MerkleStack, leafHash, sha256 } from './merkle-tree-hash.js';

const LEAF_PREFIX = Buffer.from([0x00]);

/**
 * The hash of one chunk (PROTOCOL.md §7.2), fed incrementally: any split of the chunk's bytes into `update`
 * calls gives the same `digest()`. This is the one definition of a chunk hash; nothing else hashes file data.
 * Reusable: `digest()` leaves the hasher ready for the next chunk, and `reset()` drops a chunk half fed.
 *
 * A chunk hash is the RFC 6962 Merkle Tree Hash of the chunk's LEAF_BYTES leaves (the last may be shorter; a
 * chunk of no bytes is one empty leaf). Chunks are aligned runs of 2^k leaves, so each chunk hash is a subtree
 * of the file's tree, and the file digest follows from the chunk hashes whatever the chunk size.
 */
export class ChunkHasher {
  // A leaf the input splits, gathered behind its RFC 6962 leaf prefix 0x00 and hashed one-shot. Whole leaves
  // of the input are hashed where they lie (prefix, then the view): copying them measured slower with the
  // data in cache, as it is when just read or received (PROTOCOL.md §7.2 rationale). Made on first need: a
  // hasher per leaf-sized chunk (a delta download's partial) fed whole leaves never needs it, and a zeroed
  // 64 KiB per chunk was a tenth of such a download's CPU.
  #leaf: Buffer | undefined;
  #filled = 0;
  readonly #tree = new MerkleStack();
  /** Bytes still to come of a leaf whose hash was taken ready-made (`leaf-hints.ts`): fed, not hashed again. */
  #skip = 0;
  /** The chunk's leaf hashes so far, when kept (`keepLeaves`): a receiver remembers them (issue 16). */
  readonly #leaves: Buffer[] | undefined;

  /** With `keepLeaves`, the leaf hashes of the chunk are kept until `digest` (`leafHashes`). */
  constructor(keepLeaves = false) {
    this.#leaves = keepLeaves ? [] : undefined;
  }

  /** The leaf hashes of the chunk the last `digest` was of, in order, when kept. */
  #digested: readonly Buffer[] | undefined;

  /** The leaf hashes of the chunk the last `digest` was of (its short last leaf too), when kept. */
  lastLeafHashes(): readonly Buffer[] | undefined {
    return this.#digested;
  }

  /**
   * Feeds the next bytes of the chunk. A leaf starting here whose hash a worker already computed from these
   * very bytes (`noteLeafHash`, the receive pool) is taken as is, and its bytes, here and in the next calls,
   * are not hashed again.
   */
  update(bytes: Uint8Array): this {
    let at = 0;
    while (at < bytes.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, bytes.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      if (this.#filled === 0) {
        const known = takeLeafHash(bytes, at);
        if (known !== undefined) {
          this.#tree.pushOwned(known);
          this.#leaves?.push(known);
          this.#skip = LEAF_BYTES;
          continue;
        }
      }
      if (this.#filled === 0 && bytes.length - at >= LEAF_BYTES) {
        const leaf = bytes.subarray(at, at + LEAF_BYTES);
        const hash = createHash('sha256').update(LEAF_PREFIX).update(leaf).digest();
        this.#tree.pushOwned(hash);
        this.#leaves?.push(hash);
        at += LEAF_BYTES;
        continue;
      }
      const n = Math.min(LEAF_BYTES - this.#filled, bytes.length - at);
      this.#leaf ??= Buffer.alloc(1 + LEAF_BYTES);
      this.#leaf.set(bytes.subarray(at, at + n), 1 + this.#filled);
      this.#filled += n;
      at += n;
      if (this.#filled === LEAF_BYTES) this.#closeLeaf();
    }
    return this;
  }

  /** The chunk hash of every byte fed since the last `digest()` or `reset()`; the hasher starts over. */
  digest(): Buffer {
    // A leaf taken ready-made whose bytes did not all follow: the chunk was not fed as the leaf was hashed.
    if (this.#skip > 0) throw new FerryError('INTERNAL', 'a chunk ended inside a leaf hashed ahead');
    // A partial last leaf, or the one empty leaf of a chunk of no bytes.
    if (this.#filled > 0 || this.#tree.size === 0) this.#closeLeaf();
    const root = this.#tree.root();
    if (this.#leaves !== undefined) this.#digested = [...this.#leaves];
    this.reset();
    return root;
  }

  /** Drops the bytes fed so far, e.g. when a chunk is abandoned half written. */
  reset(): void {
    this.#filled = 0;
    this.#skip = 0;
    this.#tree.clear();
    if (this.#leaves !== undefined) this.#leaves.length = 0;
  }

  #closeLeaf(): void {
    // #leaf[0] is the leaf prefix 0x00 (Buffer.alloc) and is never written; no #leaf yet: nothing filled,
    // the one empty leaf of an empty chunk.
    const leaf = this.#leaf === undefined ? LEAF_PREFIX : this.#leaf.subarray(0, 1 + this.#filled);
    const hash = sha256(leaf);
    this.#tree.pushOwned(hash);
    this.#leaves?.push(hash);
    this.#filled = 0;
  }
}

/**
 * The RFC 6962 leaf hash of one leaf whose bytes lie in `parts`, in order (a leaf split across received
 * records): the same hash `ChunkHasher` gives that leaf. Used by the receive pool's workers (`leaf-hints.ts`).
 */
export function leafHashOfParts(parts: readonly Uint8Array[]): Buffer {
  const hash = createHash('sha256').update(LEAF_PREFIX);
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/**
 * The chunk hash of `bytes`, a whole chunk (PROTOCOL.md §7.2). A chunk of one leaf or less (every small file of
 * a batch) is its leaf hash: no hasher and its 64 KiB leaf buffer are made for it.
 */
export function chunkHashOf(bytes: Uint8Array): Buffer {
  if (bytes.length <= LEAF_BYTES) return leafHash(bytes);
  return new ChunkHasher().update(bytes).digest();
}
