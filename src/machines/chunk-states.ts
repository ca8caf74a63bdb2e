import { FerryError } from '../errors/index.js';
import { ChunkHasher, ChunkHashes, ChunkSet, LEAF_BYTES, MerkleStack } from '../protocol/index.js';

/** One chunk and its hash: a verified chunk, or an entry of a partial's durable log (PROTOCOL.md §9.2). */
export interface ChunkEntry {
  readonly index: number;
  readonly hash: Buffer;
}

/**
 * What a receiver knows about one chunk of a transfer:
 * - `unverified`: no bytes of it are trusted (never received, or received and failed its hash, or left
 *   half-sent by a stream that ended);
 * - `open`: being received, in order, by one stream, and hashed as it arrives;
 * - `verified`: the bytes written for it hashed to the hash the sender named, and nothing may write it again.
 */
export type ChunkState = 'unverified' | 'open' | 'verified';

/** Chunks that may be open (receiving data) at once in one transfer: room for 16 streams and then some. */
export const MAX_OPEN_CHUNKS = 64;

interface OpenChunk {
  readonly stream: unknown;
  readonly end: number;
  position: number;
  readonly hash: ChunkHasher;
}

/**
 * The rule that decides which received bytes a transfer may trust, shared by the server (uploads) and the
 * client (downloads), with no file or socket of its own so it can be tested with bytes alone
 * (PROTOCOL.md §5.5, §5.11.2, §5.13). The caller hashes nothing itself: every byte it writes to the partial
 * goes through `accept` first, so a chunk's hash is always the hash of exactly the bytes written for it.
 *
 * The invariant the file digest relies on: a chunk is `verified` only if the bytes last written for it
 * hashed to its hash, and once `verified` no byte of it can be written again within the transfer. So at
 * the end, the digest over the verified hashes is the digest of the bytes in the partial.
 */
export class ChunkStates {
  readonly size: number;
  readonly chunkBytes: number;
  readonly count: number;
  readonly #maxOpen: number;
  /** The verified chunks and their hashes: a hash is known exactly when its chunk is verified. */
  readonly #verified: ChunkHashes;
  readonly #open = new Map<number, OpenChunk>();
  /** Unverified chunks that received bytes in this transfer (whose writes may still be in flight). */
  readonly #dirty: ChunkSet;
  /**
   * With `keepLeafHashes`: the leaf hashes of the verified chunks' bytes, taken as they were hashed (a
   * receiver remembers them for a later delta against the file, issue 16). 32 bytes per 64 KiB.
   */
  readonly #leafHashes: ChunkHashes | undefined;

  /** `verified`: chunks whose bytes the caller re-hashed from the partial (a resumed transfer, §9.2). */
  constructor(
    size: number,
    chunkBytes: number,
    options: { verified?: readonly ChunkEntry[]; maxOpen?: number; keepLeafHashes?: boolean } = {},
  ) {
    this.size = size;
    this.chunkBytes = chunkBytes;
    // The file digest is asked of these once the last chunk is verified: most of it is taken before.
    this.#verified = ChunkHashes.of(size, chunkBytes, options.verified ?? [], { digestAhead: true });
    this.count = this.#verified.count;
    this.#maxOpen = options.maxOpen ?? MAX_OPEN_CHUNKS;
    this.#dirty = new ChunkSet(this.count);
    if (options.keepLeafHashes) {
      this.#leafHashes = new ChunkHashes(size, LEAF_BYTES);
      // Chunks of one leaf held from before: their hashes are leaf hashes. Larger ones' leaves stay unknown.
      if (chunkBytes === LEAF_BYTES)
        for (const { index, hash } of options.verified ?? []) this.#leafHashes.set(index, hash);
    }
  }

  /** The leaf hashes of every leaf when each is known (`keepLeafHashes`), else undefined. */
  leafHashes(): ChunkHashes | undefined {
    const table = this.#leafHashes;
    return table !== undefined && table.knownCount === table.count ? table : undefined;
  }

  stateOf(index: number): ChunkState {
    if (this.#verified.has(index)) return 'verified';
    return this.#open.has(index) ? 'open' : 'unverified';
  }

  /** Chunks verified so far. */
  get verifiedCount(): number {
    return this.#verified.knownCount;
  }

  /** The hash of a verified chunk; undefined for any other. */
  hashOf(index: number): Buffer | undefined {
    return this.#verified.get(index);
  }

  /** Bytes of chunk `index`. */
  lengthOf(index: number): number {
    return this.#verified.lengthOf(index);
  }

  /**
   * Takes `data` for file offset `offset` from `stream` (any value naming the sender, one per session) and
   * hashes it; the caller must then write exactly these bytes at `offset`. Enforces PROTOCOL.md §5.5.1 (a
   * chunk's data in order, without gaps, from its first byte, never across its end; at most MAX_OPEN_CHUNKS
   * open) and §5.5.3 (a verified chunk is never written again). Throws MESSAGE_MALFORMED and changes
   * nothing otherwise. Returns true for the first bytes of a chunk that was written before in this transfer
   * and failed (or was left open): writes of the earlier attempt may still be in flight, and must land before
   * these do. (A boolean, not an object: this runs once per record.)
   */
  accept(offset: number, data: Uint8Array, stream: unknown): boolean {
    const { size, chunkBytes } = this;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) {
      throw new FerryError('MESSAGE_MALFORMED', `offset ${offset} is outside the file of ${size} bytes`);
    }
    const index = Math.floor(offset / chunkBytes);
    if (this.#verified.has(index)) {
      // §5.5.3: bytes already verified stay as they are; a second write could only replace them unchecked.
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is already verified`);
    }
    let current = this.#open.get(index);
    let rewrite = false;
    if (!current) {
      if (offset % chunkBytes !== 0) {
        throw new FerryError('MESSAGE_MALFORMED', `offset ${offset} does not start a chunk`);
      }
      if (this.#open.size >= this.#maxOpen) {
        throw new FerryError('MESSAGE_MALFORMED', `more than ${this.#maxOpen} chunks open at once`);
      }
      current = {
        stream,
        position: offset,
        end: offset + this.lengthOf(index),
        hash: new ChunkHasher(this.#leafHashes !== undefined),
      };
      rewrite = this.#dirty.has(index);
    } else if (current.stream !== stream) {
      // §5.13.3: a chunk travels whole on one stream; another stream cannot add to it or restart it.
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is open on another stream`);
    }
    if (offset !== current.position) {
      throw new FerryError('MESSAGE_MALFORMED', `expected offset ${current.position}, got ${offset}`);
    }
    if (offset + data.length > current.end) {
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `data at ${offset} of ${data.length} bytes crosses the chunk end ${current.end}`,
      );
    }
    this.#open.set(index, current);
    this.#dirty.add(index);
    current.hash.update(data);
    current.position += data.length;
    return rewrite;
  }

  /**
   * Closes chunk `index` with the hash the sender named (PUT_CHUNK, GET_CHUNK; PROTOCOL.md §5.5.2). Returns
   * the verified hash. A mismatch throws CHUNK_MISMATCH and leaves the chunk unverified: its bytes are not
   * trusted until the chunk is received whole again and matches.
   */
  complete(index: number, chunkHash: Uint8Array, stream: unknown): Buffer {
    const current = this.#open.get(index);
    if (!current || current.stream !== stream || current.position !== current.end) {
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is not complete`);
    }
    this.#open.delete(index);
    const actual = current.hash.digest();
    const leaves = this.#leafHashes === undefined ? undefined : current.hash.lastLeafHashes();
    if (!actual.equals(chunkHash)) throw new FerryError('CHUNK_MISMATCH', `chunk ${index}`);
    this.#dirty.delete(index);
    this.#verified.set(index, actual);
    const first = (index * this.chunkBytes) / LEAF_BYTES;
    leaves?.forEach((hash, i) => this.#leafHashes!.set(first + i, hash));
    return actual;
  }

  /**
   * Chunk `index`, whole, whose bytes are already in the partial, given as the hashes of its leaves taken
   * from those very bytes (a delta's receiver placed them from its old file where the scan or the leaf hash
   * thread hashed them, issue 16): verified when their root is `chunkHash`, as `accept` of its bytes and then
   * `complete` would, without a hasher or a carrier of its bytes (per leaf, those were a third of a cold delta
   * download's main thread). The chunk must be neither verified (§5.5.3) nor open, and `leafHashes` exactly
   * its leaves (MESSAGE_MALFORMED, nothing changed); a mismatch throws CHUNK_MISMATCH and leaves it
   * unverified. Returns the verified hash.
   */
  verifyWhole(index: number, leafHashes: readonly Buffer[], chunkHash: Uint8Array): Buffer {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.count)
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is outside the file`);
    if (this.#verified.has(index))
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is already verified`);
    if (this.#open.has(index)) throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is open`);
    const leaves = Math.max(1, Math.ceil(this.lengthOf(index) / LEAF_BYTES));
    if (leafHashes.length !== leaves)
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `chunk ${index} has ${leaves} leaves, not ${leafHashes.length}`,
      );
    // One leaf: the RFC 6962 tree of one item is that item (no hashing, the common case: a delta's chunks).
    let actual: Buffer;
    if (leaves === 1) actual = leafHashes[0]!;
    else {
      const tree = new MerkleStack();
      for (const hash of leafHashes) tree.push(hash);
      actual = tree.root();
    }
    if (!actual.equals(chunkHash)) {
      // As a chunk received and failed: unverified until received again whole.
      this.#dirty.add(index);
      throw new FerryError('CHUNK_MISMATCH', `chunk ${index}`);
    }
    this.#dirty.delete(index);
    this.#verified.set(index, actual);
    if (this.#leafHashes !== undefined) {
      const first = (index * this.chunkBytes) / LEAF_BYTES;
      leafHashes.forEach((hash, i) => this.#leafHashes!.set(first + i, hash));
    }
    return this.#verified.get(index)!;
  }

  /** A stream ended (or failed): the chunks it left open become unverified, and any stream may send them. */
  abandon(stream: unknown): void {
    for (const [index, open] of this.#open) if (open.stream === stream) this.#open.delete(index);
  }

  /** The first chunk `stream` has open, if any. */
  firstOpenBy(stream: unknown): number | undefined {
    for (const [index, open] of this.#open) if (open.stream === stream) return index;
    return undefined;
  }

  /** The first chunk still open, if any. */
  firstOpen(): number | undefined {
    for (const index of this.#open.keys()) return index;
    return undefined;
  }

  /** The held digest (PROTOCOL.md §5.4) over the hashes of `chunks`, each of which must be verified. */
  haveDigest(chunks: ChunkSet): Buffer {
    return this.#verified.haveDigest(chunks);
  }

  /**
   * The file digest (PROTOCOL.md §5.6, §7.2) over every chunk's hash. Throws MESSAGE_MALFORMED while any
   * chunk is open or unverified: the digest is only ever computed over hashes of the bytes the partial holds.
   */
  fileDigest(): Buffer {
    const open = this.firstOpen();
    if (open !== undefined) throw new FerryError('MESSAGE_MALFORMED', `chunk ${open} was not completed`);
    const verified = this.#verified.knownCount;
    if (verified !== this.count) {
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `${this.count - verified} of ${this.count} chunks missing at end`,
      );
    }
    return this.#verified.digest();
  }
}
