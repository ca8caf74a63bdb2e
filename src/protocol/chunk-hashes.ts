import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { FerryError } from '../errors/index.js';
import { ChunkSet, type ChunkRange } from './chunk-ranges.js';
import { HASH_BYTES } from './constants.js';
import { FileDigestBuilder, chunkCount, chunkLength } from './file-digest.js';
import { MerkleStack } from './merkle-tree-hash.js';

/**
 * Chunks per block whose subtree root a table that digests ahead keeps (`digestAhead`): 256, 16 MiB of leaves,
 * a root of 255 hashes taken as a block's last hash is set.
 */
const DIGEST_BLOCK_CHUNKS = 256;

/**
 * The chunk-hash table of one file of `size` bytes cut into chunks of `chunkBytes` (PROTOCOL.md §1, §7.2): the
 * SHA-256 of each chunk, stored back to back in one buffer at `index * HASH_BYTES`, and which of them are known.
 * Both sides of both directions keep one per transfer; the file digest (§7.2) and the held digest (§5.4,
 * §5.11.1) are computed from it and nowhere else. Hashes are copied into the table, never referenced, so a
 * table costs `count * HASH_BYTES` bytes whatever is done with it, and views it returns stay valid until that
 * chunk is set again.
 */
export class ChunkHashes {
  readonly size: number;
  readonly chunkBytes: number;
  /** The file's chunk count. */
  readonly count: number;
  readonly #table: Buffer;
  readonly #known: ChunkSet;

  /** With `digestAhead`: per whole block of DIGEST_BLOCK_CHUNKS chunks, its known hashes and subtree root. */
  readonly #blocks: { readonly known: Uint16Array; readonly roots: Array<Buffer | undefined> } | undefined;

  /**
   * An empty table (no hash known) for a file of `size` bytes in chunks of `chunkBytes`. `digestAhead`: the
   * subtree root of each whole block of chunks is taken as its last hash is set (and again if one of its
   * hashes is replaced), so `digest` hashes only what was set since: for a table whose digest is asked once
   * its last chunks arrived (a receiver's, the file digest before the rename), most of the tree is hashed
   * while the chunks arrive, not after (issue 16: 16-30 ms of a 1 GiB download's end).
   */
  constructor(size: number, chunkBytes: number, options: { digestAhead?: boolean } = {}) {
    this.size = size;
    this.chunkBytes = chunkBytes;
    this.count = chunkCount(size, chunkBytes);
    this.#table = Buffer.alloc(this.count * HASH_BYTES);
    this.#known = new ChunkSet(this.count);
    const blocks = Math.floor(this.count / DIGEST_BLOCK_CHUNKS);
    this.#blocks =
      options.digestAhead === true && blocks > 1
        ? { known: new Uint16Array(blocks), roots: new Array<Buffer | undefined>(blocks) }
        : undefined;
  }

  /** A table holding `entries` (index and hash each), e.g. the verified chunks a partial's log names. */
  static of(
    size: number,
    chunkBytes: number,
    entries: Iterable<{ readonly index: number; readonly hash: Uint8Array }>,
    options: { digestAhead?: boolean } = {},
  ): ChunkHashes {
    const hashes = new ChunkHashes(size, chunkBytes, options);
    for (const { index, hash } of entries) hashes.set(index, hash);
    return hashes;
  }

  /** Bytes a table for this layout costs, to refuse one before allocating it. */
  static tableBytes(size: number, chunkBytes: number): number {
    return chunkCount(size, chunkBytes) * HASH_BYTES;
  }

  /** The hash of chunk `index` as a view into the table; undefined when it is not known. */
  get(index: number): Buffer | undefined {
    if (!this.#known.has(index)) return undefined;
    return this.#table.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  }

  /** Copies `hash` into the table as chunk `index`'s hash. */
  set(index: number, hash: Uint8Array): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count || hash.length !== HASH_BYTES) {
      throw new FerryError(
        'INTERNAL',
        `chunk hash ${index} of ${this.count} must be ${HASH_BYTES} bytes, got ${hash.length}`,
      );
    }
    const blocks = this.#blocks;
    const block = Math.floor(index / DIGEST_BLOCK_CHUNKS);
    if (blocks === undefined || block >= blocks.roots.length) {
      this.#table.set(hash, index * HASH_BYTES);
      this.#known.add(index);
      return;
    }
    // A hash replaced: its block's root is taken again, by `digest`.
    if (this.#known.has(index)) blocks.roots[block] = undefined;
    else blocks.known[block]!++;
    this.#table.set(hash, index * HASH_BYTES);
    this.#known.add(index);
    if (blocks.known[block] === DIGEST_BLOCK_CHUNKS && blocks.roots[block] === undefined)
      blocks.roots[block] = this.#blockRoot(block);
  }

  /** The MTH of block `block`'s chunk hashes (every one known), for `digest`. */
  #blockRoot(block: number): Buffer {
    const stack = new MerkleStack();
    const first = block * DIGEST_BLOCK_CHUNKS * HASH_BYTES;
    // Views of the table, read only while the root is taken.
    for (let at = first; at < first + DIGEST_BLOCK_CHUNKS * HASH_BYTES; at += HASH_BYTES)
      stack.pushOwned(this.#table.subarray(at, at + HASH_BYTES));
    return stack.root();
  }

  /** True when chunk `index`'s hash is known. */
  has(index: number): boolean {
    return this.#known.has(index);
  }

  /** How many chunk hashes are known. */
  get knownCount(): number {
    return this.#known.count;
  }

  /** The known chunks as ranges, as PUT_ACCEPT and GET_REQUEST list them (PROTOCOL.md §5.4, §5.11.1). */
  knownRanges(): ChunkRange[] {
    return this.#known.ranges();
  }

  /** Every chunk of the file as a set, for asking about all of them (an EXISTING file, a verify). */
  allChunks(): ChunkSet {
    const all = new ChunkSet(this.count);
    if (this.count > 0) all.addRange(0, this.count);
    return all;
  }

  /**
   * The chunks of `chunks` whose hash this table does not know (what a cache cannot answer), a word of
   * chunks at a time.
   */
  unknownOf(chunks: ChunkSet): ChunkSet {
    return chunks.without(this.#known);
  }

  /**
   * Copies the hashes of `chunks` from `from`, a table of the same layout that knows every one of them
   * (INTERNAL otherwise), run by run rather than hash by hash: a cache answering a held claim of a 1 GiB
   * file copies 16,384 leaf hashes (issue 16).
   */
  copyFrom(from: ChunkHashes, chunks: ChunkSet): void {
    if (from.size !== this.size || from.chunkBytes !== this.chunkBytes) {
      throw new FerryError(
        'INTERNAL',
        `chunk hashes of ${from.size} bytes in ${from.chunkBytes} copied into a table of ${this.size} in ${this.chunkBytes}`,
      );
    }
    for (const { first, count } of chunks.ranges()) {
      if (!from.#known.hasRange(first, count)) {
        throw new FerryError(
          'INTERNAL',
          `chunk hashes ${first} to ${first + count - 1} copied, not all known`,
        );
      }
      const run = from.#table.subarray(first * HASH_BYTES, (first + count) * HASH_BYTES);
      if (this.#blocks !== undefined) {
        // A table that digests ahead counts each block's hashes as they are set.
        for (let i = 0; i < count; i++)
          this.set(first + i, run.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
        continue;
      }
      this.#table.set(run, first * HASH_BYTES);
      this.#known.addRange(first, count);
    }
  }

  /**
   * Copies every chunk's hash, in index order, into `target` at `offset` (every hash must be known: INTERNAL
   * otherwise); returns the bytes written. One copy of the table, for a store that writes it whole.
   */
  copyTableTo(target: Buffer, offset: number): number {
    if (this.#known.count !== this.count) {
      throw new FerryError(
        'INTERNAL',
        `table of ${this.count} chunk hashes copied, ${this.#known.count} known`,
      );
    }
    return this.#table.copy(target, offset);
  }

  /** The known chunks as `{ index, hash }` in index order, each hash a view into the table. */
  *entries(): Generator<{ index: number; hash: Buffer }> {
    for (const index of this.#known) yield { index, hash: this.get(index)! };
  }

  /** Bytes of chunk `index`: `chunkBytes`, except the last chunk (PROTOCOL.md §1). */
  lengthOf(index: number): number {
    return chunkLength(index, this.size, this.chunkBytes);
  }

  /**
   * File bytes the chunks `chunks` cover (each counted once per time it is named). A `ChunkSet` is counted by
   * its ranges, not chunk by chunk: a held claim of a 1 GiB file names 16,384 leaves (issue 16).
   */
  bytesOf(chunks: Iterable<number>): number {
    if (!(chunks instanceof ChunkSet)) {
      let bytes = 0;
      for (const index of chunks) bytes += this.lengthOf(index);
      return bytes;
    }
    let bytes = 0;
    for (const { first, count } of chunks.ranges()) {
      const last = first + count - 1;
      // The range's last chunk is the only one that may be short (the file's last), and out of range is
      // MESSAGE_MALFORMED, as `lengthOf` says of any one index.
      bytes += (count - 1) * this.chunkBytes + this.lengthOf(last);
    }
    return bytes;
  }

  /** File bytes of the chunks whose hash is known. */
  knownBytes(): number {
    return this.bytesOf(this.#known);
  }

  /**
   * The file digest (PROTOCOL.md §7.2) over every chunk's hash, in one pass over the table. Every hash must be
   * known: a digest with a missing hash would claim bytes nobody hashed, so that is an INTERNAL error.
   */
  digest(): Buffer {
    if (this.#known.count !== this.count) {
      throw new FerryError(
        'INTERNAL',
        `file digest needs all ${this.count} chunk hashes, ${this.#known.count} known`,
      );
    }
    const builder = new FileDigestBuilder(this.size, this.chunkBytes);
    const blocks = this.#blocks;
    if (blocks === undefined) {
      builder.addChunkHashes(this.#table);
      return builder.digest();
    }
    // The whole blocks by their roots (taken now where a hash was replaced since), then the chunks after them.
    for (let block = 0; block < blocks.roots.length; block++)
      builder.addSubtree((blocks.roots[block] ??= this.#blockRoot(block)), DIGEST_BLOCK_CHUNKS);
    builder.addChunkHashes(this.#table.subarray(blocks.roots.length * DIGEST_BLOCK_CHUNKS * HASH_BYTES));
    return builder.digest();
  }

  /**
   * The held digest (PROTOCOL.md §5.4, §5.11.1): SHA-256 over the hashes of `chunks` (by default the known
   * ones) in ascending index order, or 32 zero bytes when there are none. Runs of adjacent chunks are hashed
   * straight from the table. Every chunk named must be known (INTERNAL otherwise).
   */
  haveDigest(chunks: ChunkSet = this.#known): Buffer {
    if (chunks.count === 0) return Buffer.alloc(HASH_BYTES);
    const hash = createHash('sha256');
    for (const { first, count } of chunks.ranges()) {
      if (!this.#known.hasRange(first, count)) {
        let index = first;
        while (this.#known.has(index)) index++;
        throw new FerryError('INTERNAL', `held digest over chunk ${index}, whose hash is not known`);
      }
      hash.update(this.#table.subarray(first * HASH_BYTES, (first + count) * HASH_BYTES));
    }
    return hash.digest();
  }
}
