import { Buffer } from 'node:buffer';
import { LEAF_BYTES } from './constants.js';
import { leafHash } from './merkle-tree-hash.js';
import { weakChecksum } from './rolling-checksum.js';

/** Bytes of a block's strong hash in a signature: the leaf hash (§7.2) cut to 128 bits (PROTOCOL.md §5.15). */
export const DELTA_STRONG_BYTES = 16;

/** Bytes of one block's record in a signature: u32 weak checksum, then the strong hash. */
export const DELTA_BLOCK_RECORD_BYTES = 4 + DELTA_STRONG_BYTES;

/**
 * The most blocks a signature describes: an old file of 2^18 leaves (16 GiB) and 5 MiB of records. A larger
 * old file takes the plain upload path (PROTOCOL.md §5.15 limits).
 */
export const MAX_DELTA_BLOCKS = 2 ** 18;

/** The smallest block of a signature, and the step of its sizes (PROTOCOL.md §5.15.2). */
export const MIN_DELTA_BLOCK_BYTES = 1024;
export const DELTA_BLOCK_STEP = 64;

/** From this old-file size on, a delta upload's blocks are whole leaves (PROTOCOL.md §5.15.2). */
export const LEAF_DELTA_FROM_BYTES = 16 * 1024 * 1024;

/**
 * The block size a delta upload's server picks for an old file of `size` bytes (PROTOCOL.md §5.15.2): below
 * 16 MiB rsync's rule, about sqrt(size) rounded up to a multiple of 64 bytes and at least 1 KiB (so at most
 * 4 KiB), so a small edit of a small file costs about a block, not the whole file; from 16 MiB on one leaf
 * (64 KiB): at 1 GiB the sqrt rule's 32 KiB blocks would double the signature (640 KiB, not 320 KiB) to
 * save at most 32 KiB of literals per edit, and a leaf signature is read in large pieces with one hash per
 * leaf that is also the digest's leaf hash (`signLeaves`, shared with delta downloads).
 */
export function deltaBlockBytesFor(size: number): number {
  if (size >= LEAF_DELTA_FROM_BYTES) return LEAF_BYTES;
  const root = Math.ceil(Math.sqrt(size) / DELTA_BLOCK_STEP) * DELTA_BLOCK_STEP;
  return Math.min(LEAF_BYTES, Math.max(MIN_DELTA_BLOCK_BYTES, root));
}

/** Whether `blockBytes` is a block size a signature may carry: a multiple of 64 from 1 KiB to 64 KiB. */
export function isDeltaBlockBytes(blockBytes: number): boolean {
  return (
    Number.isInteger(blockBytes) &&
    blockBytes >= MIN_DELTA_BLOCK_BYTES &&
    blockBytes <= LEAF_BYTES &&
    blockBytes % DELTA_BLOCK_STEP === 0
  );
}

/**
 * What the receiver tells the sender about its old file: for each `blockBytes` block (the last may be
 * shorter), in order, the weak checksum and the truncated hash `SHA-256(0x00 || block)`; with 64 KiB blocks
 * these are the §7.2 leaves and their leaf hashes. A short last block matches only at the end of the new file.
 */
export interface DeltaSignature {
  readonly oldSize: number;
  /** The block size (PROTOCOL.md §5.15.2): LEAF_BYTES for a download's signature (§5.17.2). */
  readonly blockBytes: number;
  readonly weak: Uint32Array;
  /** `weak.length × DELTA_STRONG_BYTES` bytes, block i at `i × DELTA_STRONG_BYTES`. */
  readonly strong: Buffer;
}

/** The number of blocks an old file of `size` bytes has in its signature (by default its leaves, §7.2). */
export function deltaBlockCount(size: number, blockBytes = LEAF_BYTES): number {
  return Math.ceil(size / blockBytes);
}

/** The length of block `index` of an old file of `size` bytes. */
export function deltaBlockLength(index: number, size: number, blockBytes = LEAF_BYTES): number {
  return Math.min(blockBytes, size - index * blockBytes);
}

/** The strong hash of one block: its RFC 6962 leaf hash (§7.2), truncated. */
export function blockStrongHash(block: Uint8Array): Buffer {
  return leafHash(block).subarray(0, DELTA_STRONG_BYTES);
}

/** Appends one whole block's record to a signature being built, block by block (the receiver's file read). */
export class DeltaSignatureBuilder {
  readonly #oldSize: number;
  readonly #blockBytes: number;
  readonly #weak: Uint32Array;
  readonly #strong: Buffer;
  #count = 0;

  constructor(oldSize: number, blockBytes = LEAF_BYTES) {
    if (!isDeltaBlockBytes(blockBytes)) throw new RangeError('not a delta block size');
    const blocks = deltaBlockCount(oldSize, blockBytes);
    if (blocks > MAX_DELTA_BLOCKS) throw new RangeError('old file has too many blocks for a delta');
    this.#oldSize = oldSize;
    this.#blockBytes = blockBytes;
    this.#weak = new Uint32Array(blocks);
    this.#strong = Buffer.alloc(blocks * DELTA_STRONG_BYTES);
  }

  /** Adds the next block of the old file: `blockBytes` long except perhaps the last. */
  add(block: Uint8Array): void {
    if (block.length !== deltaBlockLength(this.#count, this.#oldSize, this.#blockBytes))
      throw new RangeError('a signature block is one block of the old file');
    if (this.#count >= this.#weak.length) throw new RangeError('more blocks than the old file has');
    this.#weak[this.#count] = weakChecksum(block, 0, block.length);
    blockStrongHash(block).copy(this.#strong, this.#count * DELTA_STRONG_BYTES);
    this.#count++;
  }

  /** Adds a record received on the wire (the sender's side of the exchange). */
  addRecord(weak: number, strong: Uint8Array): void {
    if (strong.length !== DELTA_STRONG_BYTES) throw new RangeError('strong hash length');
    if (this.#count >= this.#weak.length) throw new RangeError('more blocks than the old file has');
    this.#weak[this.#count] = weak >>> 0;
    this.#strong.set(strong, this.#count * DELTA_STRONG_BYTES);
    this.#count++;
  }

  get complete(): boolean {
    return this.#count === this.#weak.length;
  }

  get count(): number {
    return this.#count;
  }

  /**
   * The signature as it is being built: its arrays at their full size, the first `count` blocks filled in
   * (what a matcher that `extend`s as records arrive may look at), the same arrays `finish` returns.
   */
  get growing(): DeltaSignature {
    return { oldSize: this.#oldSize, blockBytes: this.#blockBytes, weak: this.#weak, strong: this.#strong };
  }

  finish(): DeltaSignature {
    if (!this.complete) throw new RangeError('signature incomplete');
    return { oldSize: this.#oldSize, blockBytes: this.#blockBytes, weak: this.#weak, strong: this.#strong };
  }
}

/** The signature of a whole old file held in memory (tests, small files), by default in leaves. */
export function deltaSignatureOf(old: Uint8Array, blockBytes = LEAF_BYTES): DeltaSignature {
  const builder = new DeltaSignatureBuilder(old.length, blockBytes);
  for (let at = 0; at < old.length; at += blockBytes) builder.add(old.subarray(at, at + blockBytes));
  return builder.finish();
}

/**
 * The most blocks one DELTA_BLOCKS carries: 2048 × 20 bytes = 40 KiB, well inside one record (PROTOCOL.md
 * §4), so a signature streams in records the receiver builds and the sender reads one at a time.
 */
export const MAX_DELTA_RECORD_BLOCKS = 2048;
