import { LEAF_BYTES, type KnownLeafHash } from '../protocol/index.js';
import { LEAF_HASH_THREAD, type LeafHashThread } from '../transfer/index.js';

/**
 * The leaf hashes a delta scan will want of a piece of the file it reads (PROTOCOL.md §5.17.3), taken on the
 * leaf hash thread as soon as the piece is read, while the scan's own thread scans the piece before it
 * (issue 16: the delta download's client spent half its event loop on SHA-256 of the leaves it checked, its
 * reads and writes waiting behind it).
 *
 * Which leaves: the matcher checks a run of blocks by their leaf hashes alone, one block after the other
 * from its last match, at that match's offset plus whole leaves. So the leaves hashed ahead are those at
 * the phase (offset mod LEAF_BYTES) of the last match seen: the leaf boundaries for an old file changed in
 * place, shifted by the size of an insertion or deletion otherwise. While a scan finds nothing, nothing is
 * hashed ahead (the matcher hashes what it checks), so a file that shares nothing costs no hashing beyond
 * the matcher's own.
 *
 * A hash is only ever handed to the scan of the very bytes it was taken over: the piece's own buffer, left
 * unchanged until the scan of it is done (the caller's read buffers are reused only after that).
 */
export class ScanHashesAhead {
  readonly #thread: LeafHashThread;
  #phase = 0;
  #following = true;
  /** Leaves handed to the thread to hash so far (a warm delta download hashes none, issue 16). */
  hashedLeaves = 0;

  constructor(thread: LeafHashThread = LEAF_HASH_THREAD) {
    this.#thread = thread;
  }

  /**
   * The phase (offset mod LEAF_BYTES) of the leaves `start` hashes now, undefined while it hashes nothing: a
   * delta upload's scan skips phase 0, whose leaves its new file's hashes taken ahead already hold.
   */
  get phase(): number | undefined {
    return this.#following ? this.#phase : undefined;
  }

  /**
   * Starts hashing the leaves of `piece` (file bytes from offset `at`, in a SharedArrayBuffer) that start at
   * the phase before offset `before`; resolves with them for the matcher (`useKnownLeafHashes`), or
   * undefined when nothing is hashed ahead or the thread failed (the matcher then hashes what it checks).
   */
  start(piece: Buffer, at: number, before: number): Promise<KnownLeafHash | undefined> {
    if (!this.#following || !(piece.buffer instanceof SharedArrayBuffer)) return Promise.resolve(undefined);
    const first = at + ((this.#phase - (at % LEAF_BYTES) + LEAF_BYTES) % LEAF_BYTES);
    // The leaves at offsets first + i × LEAF_BYTES, i < count: found again by arithmetic, not a lookup.
    const starts: number[] = [];
    for (
      let offset = first;
      offset < before && offset + LEAF_BYTES <= at + piece.length;
      offset += LEAF_BYTES
    )
      starts.push(piece.byteOffset + (offset - at));
    const count = starts.length;
    if (count === 0 || !this.#thread.worthFor(count * LEAF_BYTES)) return Promise.resolve(undefined);
    this.hashedLeaves += count;
    return this.#thread.hashLeaves(piece.buffer, starts, LEAF_BYTES).then(
      (hashes) => (offset: number) => {
        const i = (offset - first) / LEAF_BYTES;
        if (!Number.isInteger(i) || i < 0 || i >= count) return undefined;
        // A copy for each use: the partial and the chunk hasher keep the hashes they are given.
        const hash = Buffer.allocUnsafe(32);
        hashes.copy(hash, 0, 32 * i, 32 * i + 32);
        return hash;
      },
      () => undefined,
    );
  }

  /**
   * What a scan found, in order (file offsets of its matches): the last one sets the phase of the pieces
   * hashed from now on; none stops hashing ahead until a scan finds one again.
   */
  follow(offsets: readonly number[]): void {
    const last = offsets[offsets.length - 1];
    this.#following = last !== undefined;
    if (last !== undefined) this.#phase = last % LEAF_BYTES;
  }
}
