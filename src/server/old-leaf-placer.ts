import { LEAF_BYTES, deltaBlockBytesFor, type ChunkHashes } from '../protocol/index.js';
import {
  PLACED_SYNC_BYTES,
  type PartialTransfer,
  type PieceWriteThrough,
  type SignedPieceHook,
} from '../transfer/index.js';
import { LeafPlacing } from '../machines/index.js';

/** Placed leaves taken by a copy at once (`OldLeafPlacer.take`): 64 (4 MiB of the file). */
const PLACED_RUN_LEAVES = 64;

/**
 * A delta upload's old leaves written into the partial at their own offset while they are signed (an offer
 * of the old file's size onto an empty partial), by the per-leaf rule of `LeafPlacing`: arrived data
 * (PUT_DATA, a copy from elsewhere, `arrive`) wins and waits for a placing write in flight under it; a
 * PUT_COPY in place takes placed leaves, each once, and writes nothing (`take`). The glue between the rule
 * and the partial's writes; `DeltaOldFile` owns it and says when the old file can no longer be trusted
 * (`stop`).
 */
export class OldLeafPlacer {
  readonly #placing: LeafPlacing;
  /** The placing writes in flight (`hook`); what an arrival over one of them waits for. */
  readonly #writes = new Set<Promise<void>>();

  private constructor(size: number) {
    this.#placing = new LeafPlacing(size);
  }

  /**
   * The placer of an old file of `oldSize` bytes into `partial`, or undefined: only for a new file of the
   * old one's size, the sign of data changed in place (after an insertion the old bytes land elsewhere and
   * these writes would be wasted), signed in leaves (`signBlocks` hands out no pieces), onto a partial
   * holding nothing verified (those bytes stay as they are).
   */
  static for<T>(partial: PartialTransfer<T>, oldSize: number, newSize: number): OldLeafPlacer | undefined {
    if (deltaBlockBytesFor(oldSize) !== LEAF_BYTES) return undefined;
    if (newSize !== oldSize || partial.verifiedBytes > 0 || partial.heldRanges().length > 0) return undefined;
    return new OldLeafPlacer(oldSize);
  }

  /**
   * The signing's hook that writes each piece of the old file into `partial` where it lies, so a PUT_COPY in
   * place later writes nothing and the old file is read once (issue 16: a second read of it, then a write,
   * was most of a delta upload's copying). `trusted`, if given, is asked after each piece's read whether its
   * bytes are still the version whose hashes count (false: nothing is placed from then on). A failed write
   * just leaves its leaves unplaced: their copies read the old file, as before.
   */
  hook<T>(partial: PartialTransfer<T>, trusted?: () => Promise<boolean>): SignedPieceHook {
    const placing = this.#placing;
    let unsynced = 0;
    let syncing: Promise<void> | undefined;
    return async (offset, leaves) => {
      if (trusted !== undefined && !(await trusted())) {
        placing.stop();
        return;
      }
      // Whole leaves only: a short last leaf has no hint (`noteLeafHash` takes whole leaves) and is copied.
      const whole = leaves.filter((leaf) => leaf.length === LEAF_BYTES);
      const first = offset / LEAF_BYTES;
      // Only the leaves no data arrived at: arrived data wins (`LeafPlacing`).
      const writes = placing.place(first, whole.length).map(async (run) => {
        const at = run.first - first;
        let ok = true;
        let direct = false;
        try {
          // Around the page cache where the store can: the signing's pieces are aligned for it, and these
          // bytes are not read back (the chunk takes the signing's hashes).
          direct = await partial.placeUnverified(run.first * LEAF_BYTES, whole.slice(at, at + run.count), {
            unbuffered: true,
          });
        } catch {
          ok = false; // those leaves are copied from the old file, as when not placing
        }
        placing.landed(run, ok);
        // Only bytes in the page cache are a sync's to write back (`PlacedLeaves`, the client's side).
        if (ok && !direct) unsynced += run.count * LEAF_BYTES;
      });
      if (writes.length === 0) return;
      const landed = Promise.all(writes).then(() => undefined);
      this.#writes.add(landed);
      await landed;
      this.#writes.delete(landed);
      if (unsynced >= PLACED_SYNC_BYTES && syncing === undefined) {
        unsynced = 0;
        // One at a time; a failure is the partial's to report (its next write, finish or close).
        syncing = partial.syncWritten().then(
          () => (syncing = undefined),
          () => undefined,
        );
      }
    };
  }

  /**
   * Lends the partial's direct descriptor to the signing's leaf hash threads, which write each piece they read
   * where it lies while they hash it (`PieceWriteThrough`; issue 16: placed from this event loop after the
   * hashing, each write held its piece's buffer, and with it the signing's next read, for its whole length),
   * or undefined when the store has none to lend (the hook places every piece, as before). A piece is claimed
   * only when every whole leaf of it is `empty`, all made `placing` at once before its read, so arrived data
   * waits for that write as for the hook's (`arrive`); else what is still empty goes back and the hook places
   * it. `done` gives the descriptor back, once the signing is over (no write of it in flight).
   */
  async writeThrough<T>(
    partial: PartialTransfer<T>,
  ): Promise<{ readonly through: PieceWriteThrough; readonly done: () => void } | undefined> {
    const lent = await partial.lendUnbuffered();
    if (lent === undefined) return undefined;
    const placing = this.#placing;
    /** The claimed pieces' writes by file offset, each settled by its `landed`. */
    const inFlight = new Map<number, { readonly write: Promise<void>; readonly land: () => void }>();
    let written = 0;
    /** Set once a write failed: the hook places the rest (the ordinary way, if direct I/O is refused). */
    let failed = false;
    const through: PieceWriteThrough = {
      claim: (offset, length) => {
        if (failed) return undefined;
        const run = { first: offset / LEAF_BYTES, count: length / LEAF_BYTES };
        const runs = placing.place(run.first, run.count);
        if (runs.length === 1 && runs[0]!.count === run.count) {
          let land = (): void => undefined;
          const write = new Promise<void>((resolve) => (land = resolve));
          inFlight.set(offset, { write, land });
          this.#writes.add(write);
          return lent.fd;
        }
        for (const given of runs) placing.landed(given, false);
        return undefined;
      },
      landed: (offset, length, ok) => {
        placing.landed({ first: offset / LEAF_BYTES, count: length / LEAF_BYTES }, ok);
        if (ok) written += length;
        else failed = true;
        const claimed = inFlight.get(offset);
        inFlight.delete(offset);
        if (claimed === undefined) return;
        this.#writes.delete(claimed.write);
        claimed.land();
      },
    };
    return { through, done: () => lent.giveBack(written) };
  }

  /** Nothing is placed or taken from now on (the signing is over with the old file changed). */
  stop(): void {
    this.#placing.stop();
  }

  /**
   * Arrived data is about to be written at `[offset, offset + length)` of the partial: the leaves it touches
   * are never placed or taken from now on, and it resolves once no placing write is in flight under them,
   * so the arrived bytes are the ones that stay (`LeafPlacing`).
   */
  async arrive(offset: number, length: number): Promise<void> {
    const placing = this.#placing;
    if (length <= 0 || offset + length > placing.leafCount * LEAF_BYTES) return;
    if (placing.arrive(offset, length)) await this.#landed();
  }

  /**
   * The signing's hashes (`hashes()`, asked once no placing write is in flight there) of the placed leaves
   * that a copy of `length` bytes from `oldOffset` to `offset` covers whole from its start, at most 64
   * (4 MiB), now taken (`LeafPlacing.take`: each once): none unless the copy is in place and on a leaf
   * boundary. Each hash was taken over the very buffer the leaf was written from (`signLeaves` reuses it only
   * after both), so it is the hash of the bytes placed whatever the old file does later; the owner stops
   * placing when the old file's identity moved during the signing, and each chunk is still checked at
   * PUT_CHUNK.
   */
  async take(
    offset: number,
    oldOffset: number,
    length: number,
    hashes: () => ChunkHashes | undefined,
  ): Promise<Buffer[]> {
    const placing = this.#placing;
    const run: Buffer[] = [];
    if (offset !== oldOffset || offset % LEAF_BYTES !== 0 || length < LEAF_BYTES) return run;
    const first = offset / LEAF_BYTES;
    if (placing.inFlight(first, 1)) await this.#landed();
    const signed = hashes();
    if (!signed || placing.stateOf(first) !== 'placed') return run;
    const most = Math.min(PLACED_RUN_LEAVES, Math.floor(length / LEAF_BYTES));
    let known = 0;
    while (known < most && signed.get(first + known) !== undefined) known++;
    if (known === 0) return run;
    const taken = placing.take(first, known);
    for (let leaf = first; leaf < first + taken; leaf++) run.push(signed.get(leaf)!);
    return run;
  }

  /**
   * Resolves once every placing write in flight now has landed (or failed); not those started later, which
   * skip the leaves that arrived (a wait for every write could last until the signing ends).
   */
  async #landed(): Promise<void> {
    await Promise.all([...this.#writes]);
  }
}
