import { LEAF_BYTES, type ChunkHashes } from '../protocol/index.js';
import { LeafHashesAhead, type SourceFile } from '../transfer/index.js';

/** The old file's leaf hashes the scan may take for bytes it read: the store's, or those hashed in place. */
export interface LeafTable {
  readonly hashes: ChunkHashes;
  /** The leaves below this index are vouched for (hashed before the identity check). */
  readonly through: number;
  /** From the client's store (counted as known), not hashed in place. */
  readonly stored: boolean;
}

/**
 * Which leaf hashes of the old file a delta download's scan may trust for bytes it has just read (issue 16):
 * the client's store's (a WARM delta), for the version of it opened, or those being hashed in place on the
 * leaf hash thread since the offer (cold), until the scan follows another phase. Either is trusted for a
 * piece only when the old file's identity, checked after that piece's read (and the thread's hashing of its
 * leaves), is still the one opened (any write moves the ctime), and dropped for good at the first that
 * differs.
 */
export class OldLeafTables {
  #stored: ChunkHashes | undefined;
  #inPlace: LeafHashesAhead | undefined;
  readonly #unchangedNow: () => Promise<boolean>;

  constructor(
    old: Pick<SourceFile, 'size'>,
    known: ChunkHashes | LeafHashesAhead | undefined,
    unchangedNow: () => Promise<boolean>,
  ) {
    const stored = known instanceof LeafHashesAhead ? undefined : known;
    this.#stored = stored?.size === old.size && stored.knownCount === stored.count ? stored : undefined;
    this.#inPlace = known instanceof LeafHashesAhead ? known : undefined;
    this.#unchangedNow = unchangedNow;
  }

  /** Stops hashing in place (the scan follows leaves at another phase); the caller of the scan awaits it. */
  stopInPlace(): void {
    void this.#inPlace?.stop();
    this.#inPlace = undefined;
  }

  /**
   * The table to trust for bytes read just now, up to file offset `end` (waiting for the thread to pass it
   * when hashing in place), while the old file's identity is still the one opened; undefined otherwise, and
   * from then on.
   */
  async afterRead(end: number): Promise<LeafTable | undefined> {
    const stored = this.#stored;
    if (stored !== undefined) {
      if (await this.#unchangedNow()) return { hashes: stored, through: stored.count, stored: true };
      this.#stored = undefined;
      return undefined;
    }
    const hashing = this.#inPlace;
    if (hashing === undefined) return undefined;
    const leaves = Math.min(hashing.hashes.count, Math.ceil(end / LEAF_BYTES));
    await hashing.hashedThrough(leaves);
    // Hashed in order: short of this piece's last leaf only when the work ended early (stopped, failed),
    // and then the leaves of the piece are hashed ahead as without it.
    if (!hashing.hashes.has(leaves - 1)) return undefined;
    // Only the leaves hashed before the identity check are vouched for by it.
    const through = Math.min(hashing.hashedLeaves, hashing.hashes.count);
    if (await this.#unchangedNow()) return { hashes: hashing.hashes, through, stored: false };
    this.stopInPlace();
    return undefined;
  }
}
