import {
  ChunkHashes,
  LEAF_BYTES,
  deltaBlockLength,
  noteLeafHash,
  type DeltaLeafSources,
} from '../protocol/index.js';
import type { LeafPartial } from './delta-download.js';
import type { PlacedLeaves } from './placed-leaves.js';
import { alignedForDirect, type ReadBuffers } from './read-buffers.js';
import type { WriteThroughGate } from './write-through-gate.js';

/** A leaf of the server's file the matcher found in the old file: block `block` at old-file `offset`. */
interface Found {
  readonly block: number;
  readonly offset: number;
  readonly hash: Buffer;
}

/**
 * What a delta download's scan found in its old file, taken into the download's partial window by window
 * (PROTOCOL.md §5.17.3). Into a partial that held nothing, the whole leaves found are placed (`PlacedLeaves`)
 * in runs from the window they were found in, and counted (`held`) only once the file is known to differ (a
 * leaf not in place, a file of another size, or the digest at the end) and their write landed, and only
 * while the old file is unchanged; the others are written as verified chunks at once.
 */
export class FoundLeaves {
  /** The leaves now verified in the partial, with the scan's hashes. */
  readonly held: ChunkHashes;
  /** The leaves the scan saw where they lie in the server's file. */
  readonly inPlace: ChunkHashes;
  /** The leaves placed from elsewhere in the old file (after an insertion or a deletion), by the scan's hash. */
  readonly #moved: ChunkHashes;
  /** The matches of the window scanned last, not yet taken: the matcher's callback fills it (`note`). */
  readonly #found: Found[] = [];
  /** Leaves below this index may have been placed by the scan itself (`WriteThroughGate.landed`). */
  #placedEnd = 0;
  /** True while every leaf taken lies in place in an old file of the server's file's size. */
  #deferring: boolean;
  readonly #size: number;

  /**
   * `placed`: where the whole leaves are placed, if the partial held nothing; `buffers`: the scan's read
   * buffers, told of every view written from them; `unchanged`: whether the old file is still the version
   * opened (its identity checked now), so the bytes placed are the bytes the scan hashed; `gate`: where the
   * leaf hash thread may still write the old file's leaves through, waited for before any write of other
   * bytes there (a leaf found elsewhere, a verified chunk).
   */
  constructor(
    private readonly partial: LeafPartial,
    private readonly sources: DeltaLeafSources,
    private readonly placed: PlacedLeaves | undefined,
    private readonly buffers: ReadBuffers,
    private readonly unchanged: () => Promise<boolean>,
    sizes: { size: number; oldSize: number },
    private readonly gate?: WriteThroughGate,
  ) {
    this.#size = sizes.size;
    this.held = new ChunkHashes(sizes.size, LEAF_BYTES);
    this.inPlace = new ChunkHashes(sizes.size, LEAF_BYTES);
    this.#moved = new ChunkHashes(sizes.size, LEAF_BYTES);
    this.#deferring = sizes.oldSize === sizes.size;
  }

  /** The matcher's callback: block `block` found at old-file `offset`, its leaf hash `hash`. */
  readonly note = (block: number, offset: number, hash: Buffer): void => {
    this.#found.push({ block, offset, hash });
  };

  /** The old-file offsets of the matches noted since the last `take` (the phase the scan follows). */
  offsets(): number[] {
    return this.#found.map((match) => match.offset);
  }

  /**
   * Writes the leaves the last scan of `window` (old-file bytes from `from`) found into the partial.
   * `rescan`: a scan again, whose leaves are written and verified at once and noted as sources.
   */
  async take(window: Buffer, from: number, rescan: boolean): Promise<void> {
    const taken = !rescan && this.#deferring ? this.#takeInPlace(window, from) : 0;
    if (taken < this.#found.length) await this.#takeMoved(window, from, rescan, taken);
    this.#found.length = 0;
  }

  /**
   * The old file's leaves `[first, first + count)`, written through where they lie by the leaf hash thread
   * (landed) from the very bytes it hashed (`hashes`, matched to the server's leaves there): taken as leaves
   * the scan found in place and placed, without reading them (issue 16: the scan read the old file a second
   * time), and counted as those are. Stops at a leaf found before (elsewhere); returns how many it took.
   * The caller vouches that `hashes` were checked by an identity check of the old file taken after these
   * leaves' writes landed, and found it the version opened.
   */
  takeWrittenThrough(first: number, count: number, hashes: ChunkHashes): number {
    const { held, inPlace } = this;
    let taken = 0;
    for (let block = first; taken < count; block++, taken++)
      if (held.has(block) || inPlace.has(block) || this.#moved.has(block)) break;
    if (taken === 0) return 0;
    // A leaf not found before these (an edit): the file differs, as when the scan meets it (`#takeMoved`).
    if (first !== inPlace.knownCount) this.#deferring = false;
    for (let block = first; block < first + taken; block++) inPlace.set(block, hashes.get(block)!);
    this.placed!.landedElsewhere(first, taken);
    // Once the file is known to differ they count at once: the identity check that vouched for `hashes` was
    // taken after the thread's writes of these leaves landed, so it vouches for the bytes placed too, and the
    // acceptance asks no fstat of its own for them (one per 4 MiB window, ~40 ms of a 1 GiB download's main
    // thread with the BigIntStats).
    if (!this.#deferring)
      for (const block of this.placed!.acceptChecked(first, taken, this.#scanHash))
        held.set(block, this.#scanHash(block)!);
    return taken;
  }

  /**
   * The leaves placed so far whose writes landed count now, once the file is known to differ, while the old
   * file is still the version opened (its identity checked after their reads: the bytes placed are the
   * bytes the scan hashed); the rest at the end (`acceptRest`). Counting them at the end took 80-100 ms of a
   * 1 GiB download's end (16,336 leaves).
   */
  async acceptLanded(): Promise<void> {
    if (this.#deferring || this.placed === undefined) return;
    for (const block of await this.placed.acceptLanded(this.#unchangedAfterThread, this.#scanHash))
      this.held.set(block, this.#scanHash(block)!);
  }

  /** Whether every leaf lies in place and the whole is `digest`: the old file is the server's. */
  identical(digest: Buffer): boolean {
    return (
      this.#deferring &&
      this.inPlace.knownCount === this.inPlace.count &&
      this.inPlace.digest().equals(digest)
    );
  }

  /** The leaves placed and not yet counted count now, if the old file is still the version scanned. */
  async acceptRest(): Promise<void> {
    for (const block of (await this.placed?.accept(this.#unchangedAfterThread, this.#scanHash)) ?? [])
      this.held.set(block, this.#scanHash(block)!);
  }

  /**
   * Whether the old file is still the version opened, asked once no write of the leaf hash thread's may
   * still land under a leaf the scan placed: both the thread's read and the scan's are then before the check.
   */
  readonly #unchangedAfterThread = async (): Promise<boolean> => {
    const landed = this.gate?.landed(this.#placedEnd);
    if (landed !== undefined) await landed;
    return this.unchanged();
  };

  /** The scan's hash of a leaf it placed: where it lies in place, or found elsewhere. */
  readonly #scanHash = (index: number): Buffer | undefined =>
    this.inPlace.get(index) ?? this.#moved.get(index);

  /**
   * Of the leaves found, the first ones while every leaf so far lies in place: noted, and those whole placed
   * in one write. Returns how many it took. Apart from `#takeMoved` (the leaves after the first difference):
   * V8 optimizes this before an edit is met, and a path first taken then throws the optimized code away
   * (issue 16).
   */
  #takeInPlace(window: Buffer, from: number): number {
    const found = this.#found;
    let taken = 0;
    const leaves: Buffer[] = [];
    for (; taken < found.length; taken++) {
      const { block, offset, hash } = found[taken]!;
      if (offset !== block * LEAF_BYTES || block !== this.inPlace.knownCount) break;
      this.inPlace.set(block, hash);
      const length = deltaBlockLength(block, this.#size);
      // A short last leaf is not placed (no hint for it): it is read again if the file differs.
      if (this.placed !== undefined && length === LEAF_BYTES) {
        const leaf = window.subarray(offset - from, offset - from + length);
        this.buffers.written(leaf);
        leaves.push(leaf);
      }
    }
    // Leaves in place, one after another, placed in one write: around the page cache when aligned for it
    // (issue 16: 1 GiB of new page cache cost a delta's receiver 0.3-2 CPU s by the VM's memory state).
    if (leaves.length > 0) {
      this.placed!.place(found[0]!.block, leaves, alignedForDirect(leaves[0]!));
      this.#placedEnd = Math.max(this.#placedEnd, found[0]!.block + leaves.length);
    }
    return taken;
  }

  /**
   * Writes the leaves found from `found[first]` on. The whole leaves are placed as before the first
   * difference, in runs of leaves that lie one after another in both files (counted once landed,
   * `acceptLanded`; issue 16: written one by one as verified chunks, they went through the page cache, 0.3-2
   * CPU s per GiB); a short last leaf, and those a scan again found, are written and verified at once.
   */
  async #takeMoved(window: Buffer, from: number, rescan: boolean, first: number): Promise<void> {
    const { held, inPlace, partial, placed } = this;
    const found = this.#found;
    const moved = this.#moved;
    this.#deferring = false;
    let run: Buffer[] = [];
    let runFirst = 0;
    let runOffset = 0;
    const placeRun = (): void => {
      if (run.length > 0) {
        placed!.place(runFirst, run, alignedForDirect(run[0]!));
        this.#placedEnd = Math.max(this.#placedEnd, runFirst + run.length);
      }
      run = [];
    };
    for (let i = first; i < found.length; i++) {
      const { block, offset, hash } = found[i]!;
      // A leaf seen once is taken from there (placed, or read again at the end): a repeat of it found
      // elsewhere adds nothing.
      if (held.has(block) || inPlace.has(block) || moved.has(block)) continue;
      const length = deltaBlockLength(block, this.#size);
      const leaf = window.subarray(offset - from, offset - from + length);
      // Other bytes than the old file's there: not while the leaf hash thread may still write those.
      const gated = offset === block * LEAF_BYTES && !rescan ? undefined : this.gate?.before(block);
      if (gated !== undefined) await gated;
      if (!rescan && placed !== undefined && length === LEAF_BYTES) {
        (offset === block * LEAF_BYTES ? inPlace : moved).set(block, hash);
        // In place and written through by the leaf hash thread already: the same bytes, if the old file is
        // still the version scanned (else they are not accepted), so not written again.
        if (offset === block * LEAF_BYTES && block < (this.gate?.hashing?.writtenLeaves ?? 0)) {
          placeRun();
          placed.landedElsewhere(block, 1);
          continue;
        }
        this.buffers.written(leaf);
        // A run is contiguous in the window too: aligned for direct I/O as a whole if its first leaf is.
        if (block !== runFirst + run.length || offset !== runOffset + run.length * LEAF_BYTES) placeRun();
        if (run.length === 0) [runFirst, runOffset] = [block, offset];
        run.push(leaf);
        continue;
      }
      placeRun();
      // A verified chunk: never under a write of the thread's still to land.
      const through = this.gate?.before(block);
      if (through !== undefined) await through;
      const placing = placed?.overwrite(block);
      if (placing !== undefined) await placing;
      // The matcher hashed these very bytes, which stay as they are: the partial takes the hash, not hashes
      // again (a whole leaf only: a hint stands for LEAF_BYTES bytes).
      if (length === LEAF_BYTES) noteLeafHash(leaf.buffer, leaf.byteOffset, hash);
      this.buffers.written(leaf);
      await partial.writeData(block * LEAF_BYTES, leaf);
      partial.completeChunk(block, hash);
      held.set(block, hash);
      if (rescan) this.sources.add([{ newOffset: offset, length, oldOffset: block * LEAF_BYTES }]);
    }
    placeRun();
  }
}
