import { ChunkHashes } from '../protocol/index.js';

/** How many file digests a memo remembers by default: the last few downloads' tables, a few KiB. */
export const FILE_DIGESTS_REMEMBERED = 16;

/**
 * The file digests (PROTOCOL.md §5.4) a server took last, by the table they are of, so a table equal to one
 * just digested is not hashed again node by node: a delta download's claim (§5.17.3) is answered over the
 * table its signing just digested, its missing leaves hashed again as they were sent (issue 16: ~20 ms of
 * 1 GiB's tree between the last chunk sent and GET_END).
 *
 * An entry is keyed by the client's key, the file's size and chunk size, and the SHA-256 over every chunk
 * hash in order (the held digest over all of them): equal keys are equal tables, so an entry is a pure function
 * of its key and no table can find another's digest (docs/SECURITY.md, "Delta downloads"). The client's key
 * keeps one client's downloads from telling another, by GET_END's time, which tables were digested lately.
 * Bounded: the oldest entries go first.
 */
export class FileDigestMemo {
  readonly #digests = new Map<string, Buffer>();
  readonly #maxEntries: number;
  /** Digests answered from the memo (for tests and benchmarks). */
  hits = 0;

  constructor(maxEntries: number = FILE_DIGESTS_REMEMBERED) {
    this.#maxEntries = maxEntries;
  }

  /** The file digest over `hashes` for `client`: every chunk's hash known, remembered; else `digest()`'s. */
  digestOf(client: Buffer, hashes: ChunkHashes): Buffer {
    // Not every hash known: `digest()` says which is missing.
    if (hashes.knownCount !== hashes.count) return hashes.digest();
    const table = hashes.haveDigest().toString('hex');
    const key = `${client.toString('hex')}:${hashes.size}:${hashes.chunkBytes}:${table}`;
    const known = this.#digests.get(key);
    if (known !== undefined) {
      this.hits++;
      return Buffer.from(known);
    }
    const digest = hashes.digest();
    this.#digests.set(key, Buffer.from(digest));
    for (const oldest of this.#digests.keys()) {
      if (this.#digests.size <= this.#maxEntries) break;
      this.#digests.delete(oldest);
    }
    return digest;
  }
}
