import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { FerryError } from '../errors/index.js';
import {
  HASH_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MAX_TRANSFER_CHUNKS,
  MIN_CHUNK_BYTES,
} from './constants.js';

import { MerkleStack, leafHash, sha256 } from './merkle-tree-hash.js';

// PROTOCOL.md §7.2: the domain-separation prefix of the file digest.
const FILE_DIGEST_LABEL = Buffer.from('ferry-digest-v2', 'ascii');

/**
 * The number of chunks of a file, `ceil(size / chunkBytes)` (PROTOCOL.md §1, §7.2); 0 for an empty file
 * (§5.5.4). Throws INTERNAL for a size or chunk size the decoder would already have refused.
 */
export function chunkCount(size: number, chunkBytes: number): number {
  checkLayout(size, chunkBytes);
  return Math.ceil(size / chunkBytes);
}

/**
 * The length of chunk `index`: `chunkBytes`, except the last chunk, which holds the rest (PROTOCOL.md §1).
 * An index past the last chunk is MESSAGE_MALFORMED, since such an index comes from the peer.
 */
export function chunkLength(index: number, size: number, chunkBytes: number): number {
  const count = chunkCount(size, chunkBytes);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new FerryError('MESSAGE_MALFORMED', `chunk index ${index} out of range for ${count} chunks`);
  }
  return Math.min(chunkBytes, size - index * chunkBytes);
}

/**
 * Computes a file digest incrementally (PROTOCOL.md §7.2): feed the chunk hashes in index order, then call
 * `digest()`. Each chunk hash is the root of an aligned subtree of the file's Merkle tree, so the tree's root
 * is the Merkle Tree Hash over the chunk hashes: the digest is the same whatever the chunk size. Holds a stack
 * of at most log2(chunks) + 1 hashes, not a table.
 */
export class FileDigestBuilder {
  readonly #tree = new MerkleStack();
  readonly #header: Buffer;
  readonly #expected: number;
  #added = 0;
  #done = false;

  /** Starts the digest of a file of `size` bytes cut into chunks of `chunkBytes`. */
  constructor(size: number, chunkBytes: number) {
    this.#expected = chunkCount(size, chunkBytes);
    // "ferry-digest-v2" || u64 size || root; the root is filled in by digest().
    const header = Buffer.alloc(FILE_DIGEST_LABEL.length + 8 + HASH_BYTES);
    FILE_DIGEST_LABEL.copy(header, 0);
    // u64 size as two u32 halves: size is a safe integer, so the high half fits.
    header.writeUInt32BE(Math.floor(size / 2 ** 32), FILE_DIGEST_LABEL.length);
    header.writeUInt32BE(size % 2 ** 32, FILE_DIGEST_LABEL.length + 4);
    this.#header = header;
  }

  /** Adds the hash of the next chunk, in index order. */
  addChunkHash(hash: Uint8Array): void {
    if (this.#done) throw new FerryError('INTERNAL', 'file digest already finished');
    if (hash.length !== HASH_BYTES) {
      throw new FerryError('INTERNAL', `chunk hash must be ${HASH_BYTES} bytes, got ${hash.length}`);
    }
    if (this.#added >= this.#expected) {
      throw new FerryError(
        'INTERNAL',
        `file has ${this.#expected} chunks, got a hash for chunk ${this.#added}`,
      );
    }
    this.#tree.push(hash);
    this.#added += 1;
  }

  /**
   * Adds the hashes of the next chunks, in index order, as one run of `n * HASH_BYTES` bytes: a whole chunk-hash
   * table (ChunkHashes) is hashed in one call, with no view per chunk.
   */
  addChunkHashes(hashes: Uint8Array): void {
    if (this.#done) throw new FerryError('INTERNAL', 'file digest already finished');
    if (hashes.length % HASH_BYTES !== 0) {
      throw new FerryError(
        'INTERNAL',
        `chunk hashes must be a multiple of ${HASH_BYTES} bytes, got ${hashes.length}`,
      );
    }
    const n = hashes.length / HASH_BYTES;
    if (this.#added + n > this.#expected) {
      throw new FerryError('INTERNAL', `file has ${this.#expected} chunks, got ${this.#added + n} hashes`);
    }
    for (let at = 0; at < hashes.length; at += HASH_BYTES)
      this.#tree.push(hashes.subarray(at, at + HASH_BYTES));
    this.#added += n;
  }

  /**
   * Adds the MTH of the next `count` chunk hashes (`count` a power of two dividing the chunks added so far), as
   * adding them one by one would: a table that keeps its blocks' subtree roots (`ChunkHashes`, `digestAhead`)
   * hashes only the blocks set since.
   */
  addSubtree(root: Buffer, count: number): void {
    if (this.#done) throw new FerryError('INTERNAL', 'file digest already finished');
    if (root.length !== HASH_BYTES || !Number.isInteger(Math.log2(count)) || this.#added % count !== 0)
      throw new FerryError(
        'INTERNAL',
        `a subtree of ${count} chunk hashes after ${this.#added} is not aligned`,
      );
    if (this.#added + count > this.#expected)
      throw new FerryError(
        'INTERNAL',
        `file has ${this.#expected} chunks, got ${this.#added + count} hashes`,
      );
    this.#tree.pushSubtree(root, count);
    this.#added += count;
  }

  /** Returns the 32-byte file digest; every chunk hash must have been added. Callable once. */
  digest(): Buffer {
    if (this.#done) throw new FerryError('INTERNAL', 'file digest already finished');
    if (this.#added !== this.#expected) {
      throw new FerryError('INTERNAL', `expected ${this.#expected} chunk hashes, got ${this.#added}`);
    }
    this.#done = true;
    // An empty file is one empty leaf (PROTOCOL.md §7.2), not RFC 6962's empty tree.
    const root = this.#expected === 0 ? leafHash(new Uint8Array(0)) : this.#tree.root();
    root.copy(this.#header, this.#header.length - HASH_BYTES);
    return sha256(this.#header);
  }
}

/** The file digest of PROTOCOL.md §7.2 over all chunk hashes of a file, in index order. */
export function fileDigest(size: number, chunkBytes: number, chunkHashes: readonly Uint8Array[]): Buffer {
  const builder = new FileDigestBuilder(size, chunkBytes);
  for (const hash of chunkHashes) builder.addChunkHash(hash);
  return builder.digest();
}

/**
 * The PUT_ACCEPT `haveDigest` (PROTOCOL.md §5.4): SHA-256 over the hashes of the held chunks concatenated in
 * ascending index order, or 32 zero bytes when no chunk is held.
 */
export function haveDigest(chunkHashes: Iterable<Uint8Array>): Buffer {
  const hash = createHash('sha256');
  let any = false;
  for (const chunkHash of chunkHashes) {
    if (chunkHash.length !== HASH_BYTES) {
      throw new FerryError('INTERNAL', `chunk hash must be ${HASH_BYTES} bytes, got ${chunkHash.length}`);
    }
    hash.update(chunkHash);
    any = true;
  }
  return any ? hash.digest() : Buffer.alloc(HASH_BYTES);
}

// PROTOCOL.md §5.3: the same limits PUT_OFFER enforces on the wire.
function checkLayout(size: number, chunkBytes: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new FerryError('INTERNAL', `file size must be from 0 to 2^53-1, got ${size}`);
  }
  if (
    !Number.isInteger(chunkBytes) ||
    chunkBytes < MIN_CHUNK_BYTES ||
    chunkBytes > MAX_CHUNK_BYTES ||
    (chunkBytes & (chunkBytes - 1)) !== 0
  ) {
    throw new FerryError(
      'INTERNAL',
      `chunk size ${chunkBytes} is not a power of two from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}`,
    );
  }
  if (Math.ceil(size / chunkBytes) > MAX_CHUNK_COUNT) {
    throw new FerryError(
      'INTERNAL',
      `size ${size} needs more than ${MAX_CHUNK_COUNT} chunks of ${chunkBytes}`,
    );
  }
}

/**
 * The chunk size to use for a file of `size` bytes: `preferred`, doubled as often as needed to keep the
 * file within MAX_TRANSFER_CHUNKS chunks (PROTOCOL.md §10), and never above MAX_CHUNK_BYTES.
 */
export function chunkBytesFor(size: number, preferred: number): number {
  let chunkBytes = preferred;
  while (chunkBytes < MAX_CHUNK_BYTES && Math.ceil(size / chunkBytes) > MAX_TRANSFER_CHUNKS) chunkBytes *= 2;
  return chunkBytes;
}
