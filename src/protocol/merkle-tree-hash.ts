import { Buffer } from 'node:buffer';
import * as crypto from 'node:crypto';
import { LEAF_BYTES } from './constants.js';

// RFC 6962 §2.1: the two domain-separation prefixes of the Merkle Tree Hash.
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

// crypto.hash (one-shot, no Hash object) is faster for the many small inputs of a tree; Node before 20.12
// lacks it, so it falls back to createHash.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer })
  .hash;

/** SHA-256 of `bytes`, one shot. */
export function sha256(bytes: Uint8Array): Buffer {
  return oneShot ? oneShot('sha256', bytes, 'buffer') : crypto.createHash('sha256').update(bytes).digest();
}

/** Room for the prefix and one leaf (PROTOCOL.md §7.2). */
const leafScratch = Buffer.allocUnsafe(1 + LEAF_BYTES);
/** The leaf prefix alone, fed before bytes hashed where they lie. */
const LEAF_PREFIX_BYTES = Buffer.from([LEAF_PREFIX]);

/** RFC 6962 §2.1 leaf hash: `SHA-256(0x00 || bytes)`. */
export function leafHash(bytes: Uint8Array): Buffer {
  // Bytes in shared memory (a delta's read buffers, lent to the leaf hash thread) are hashed where they lie:
  // V8 copies out of a SharedArrayBuffer element by element with relaxed atomic loads, 0.3-0.4 CPU s per
  // GiB more than the hash itself (issue 16: most of a shifted delta upload's server main thread copying).
  if (bytes.buffer instanceof SharedArrayBuffer)
    return crypto.createHash('sha256').update(LEAF_PREFIX_BYTES).update(bytes).digest();
  // One input buffer for every leaf-sized call (the hash is synchronous): a 64 KiB allocation per leaf
  // hashed was a good part of a delta's garbage collection time.
  const input =
    bytes.length < leafScratch.length
      ? leafScratch.subarray(0, 1 + bytes.length)
      : Buffer.allocUnsafe(1 + bytes.length);
  input[0] = LEAF_PREFIX;
  input.set(bytes, 1);
  return sha256(input);
}

/** RFC 6962 §2.1 interior node hash: `SHA-256(0x01 || left || right)`. */
export function nodeHash(
  left: Uint8Array,
  right: Uint8Array,
  scratch: Buffer = Buffer.allocUnsafe(65),
): Buffer {
  scratch[0] = NODE_PREFIX;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return sha256(scratch.length === 65 ? scratch : scratch.subarray(0, 65));
}

/**
 * The Merkle Tree Hash of RFC 6962 §2.1 built incrementally from its items (leaf hashes, or the roots of
 * equal-sized aligned subtrees, such as a file's chunk hashes: PROTOCOL.md §7.2), pushed left to right. Holds
 * a stack of (item count, hash) with counts strictly decreasing, merging equal counts as items arrive, so n
 * items cost at most log2(n) + 1 hashes of memory; `root()` folds the stack right to left, which is the
 * RFC's split at the largest power of two below n.
 */
export class MerkleStack {
  readonly #counts: number[] = [];
  readonly #hashes: Buffer[] = [];
  readonly #scratch = Buffer.allocUnsafe(65);

  /** How many items have been pushed. */
  get size(): number {
    let n = 0;
    for (const count of this.#counts) n += count;
    return n;
  }

  /** Pushes the next item's 32-byte hash (copied). */
  push(hash: Uint8Array): void {
    this.pushOwned(Buffer.from(hash));
  }

  /** Pushes a hash the caller hands over and never touches again (no copy: once per leaf on the hot path). */
  pushOwned(hash: Buffer): void {
    this.pushSubtree(hash, 1);
  }

  /**
   * Pushes `root`, the MTH of the next `count` items (a power of two; every item pushed before it makes
   * whole subtrees of at least `count` items, so it is an aligned subtree of the tree), handed over as
   * `pushOwned`'s hash is: the same stack as pushing those items one by one.
   */
  pushSubtree(root: Buffer, count: number): void {
    let merged = root;
    while (this.#counts.length > 0 && this.#counts[this.#counts.length - 1] === count) {
      this.#counts.pop();
      merged = nodeHash(this.#hashes.pop()!, merged, this.#scratch);
      count *= 2;
    }
    this.#counts.push(count);
    this.#hashes.push(merged);
  }

  /** MTH of the items pushed: SHA-256 of nothing when there are none (RFC 6962 §2.1). Leaves the stack as is. */
  root(): Buffer {
    if (this.#hashes.length === 0) return sha256(new Uint8Array(0));
    let root = this.#hashes[this.#hashes.length - 1]!;
    for (let i = this.#hashes.length - 2; i >= 0; i--) root = nodeHash(this.#hashes[i]!, root, this.#scratch);
    return root;
  }

  /** Empties the stack. */
  clear(): void {
    this.#counts.length = 0;
    this.#hashes.length = 0;
  }
}
