import { LeafPlacing } from '../machines/index.js';
import { LEAF_BYTES } from '../protocol/index.js';
import { PLACED_SYNC_BYTES, type PartialTransfer } from '../transfer/index.js';

/** What placing writes into and accepts from: the download's partial. */
export type PlacingPartial = Pick<
  PartialTransfer<unknown>,
  'placeUnverified' | 'acceptPlacedChunk' | 'syncWritten'
>;

/**
 * The leaves a delta download's scan found in its old file (in place, or shifted by an insertion or a
 * deletion, PROTOCOL.md §5.17.3) and wrote into the partial at once, from the very window buffer the scan
 * hashed them in, outside the partial's rules (`placeUnverified`), before the digest can say whether the old
 * file is the server's (issue 16: the scan read them, and they were read a second time to be written once a
 * difference showed up). The delta upload's server does the same while it signs (`delta-old-file.ts`); both
 * follow one per-leaf rule, `LeafPlacing` (src/machines/leaf-placing.ts): a leaf counts only once its placing
 * write landed and nothing wrote over it since, and a write over it (`overwrite`) wins, after any placing
 * write in flight there landed.
 *
 * The leaves placed are taken (`accept`) only while the old file's identity (device, inode, size, mtime and
 * ctime in ns) is the one it had when opened, after every read: any write moves its ctime, so the bytes
 * placed are the bytes the old file held and the scan hashed. Otherwise nothing is accepted and the caller
 * reads those leaves again. Chunks accepted are still claimed (the server checks the claim) and the whole
 * file's digest is checked before the rename.
 *
 * Every PLACED_SYNC_BYTES placed through the page cache, a sync of the partial starts behind them
 * (`syncWritten`, vouching for nothing), as the upload's server does: the disk writes the placed leaves back
 * while the scan goes on, and the sync after they are accepted has little left to write. Leaves placed around
 * the page cache (`unbuffered`, the scan's usual case) are on the disk once their write lands: a sync behind
 * them has nothing to write back, and held up the direct writes in flight while it ran (issue 16, 1 GiB WARM
 * download: the scan waited 0.64-0.82 s for its buffers' writes to land with those syncs, 0.15-0.60 s
 * without).
 */
export class PlacedLeaves {
  readonly #partial: PlacingPartial;
  readonly #placing: LeafPlacing;
  readonly #pending = new Set<Promise<void>>();
  /** Bytes placed through the page cache since the last sync started behind them. */
  #unsynced = 0;
  #syncing: Promise<void> | undefined;
  readonly #syncBytes: number;

  /**
   * `syncBytes`: bytes placed through the page cache between two syncs behind them (PLACED_SYNC_BYTES;
   * smaller in tests).
   */
  constructor(partial: PlacingPartial, size: number, syncBytes = PLACED_SYNC_BYTES) {
    this.#partial = partial;
    this.#placing = new LeafPlacing(size);
    this.#syncBytes = syncBytes;
  }

  /**
   * Writes `leaves` (whole leaves, contiguous from leaf `first`) where they lie, without waiting: the
   * caller keeps the buffers unchanged until the partial's writes have landed (`flushWrites`). Only leaves
   * nothing else wrote are placed; a write that fails leaves its leaves unplaced: they are read again.
   * `unbuffered`: the leaves are aligned for direct I/O (`alignedForDirect`), written around the page cache.
   */
  place(first: number, leaves: readonly Buffer[], unbuffered = false): void {
    if (leaves.length === 0) return;
    if (leaves.some((leaf) => leaf.length !== LEAF_BYTES))
      throw new RangeError('only whole leaves are placed (a leaf hint stands for LEAF_BYTES bytes)');
    for (const run of this.#placing.place(first, leaves.length)) {
      const pieces = leaves.slice(run.first - first, run.first - first + run.count);
      const write = this.#partial.placeUnverified(run.first * LEAF_BYTES, pieces, { unbuffered }).then(
        (direct) => {
          this.#placing.landed(run, true);
          if (!direct) this.#placedBytes(run.count * LEAF_BYTES);
        },
        () => this.#placing.landed(run, false),
      );
      this.#pending.add(write);
      void write.finally(() => this.#pending.delete(write));
    }
  }

  /**
   * Leaves `[first, first + count)` were written where they lie by someone else, the old file's bytes whose
   * hashes the caller has, and have landed (the leaf hash thread writing through, `hashInPlace`): placed as
   * if written here, those nothing else wrote, to be accepted as the others are.
   */
  landedElsewhere(first: number, count: number): void {
    for (const run of this.#placing.place(first, count)) this.#placing.landed(run, true);
  }

  /** Whether leaf `index` is placed and nothing wrote over it since. */
  has(index: number): boolean {
    return this.#placing.stateOf(index) === 'placed';
  }

  /**
   * Another write is about to land on leaf `index`: it is no longer placed, and a placing write still in
   * flight there lands first (the promise returned), so the other write is the one that stays. Undefined
   * when there is nothing to wait for: the caller awaits nothing then (called once per leaf written).
   */
  overwrite(index: number): Promise<void> | undefined {
    return this.#placing.arrive(index * LEAF_BYTES, LEAF_BYTES) ? this.settle() : undefined;
  }

  /** Resolves once the placing writes started so far have landed or failed (not those started later). */
  startedLanded(): Promise<void> {
    return Promise.all([...this.#pending]).then(() => undefined);
  }

  /** Resolves once every placing write has landed or failed. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /**
   * The placed leaves become verified chunks of the partial, each with the hash the scan took of those
   * bytes (`hashOf`), when `unchanged` says the old file is still the version the scan read; nothing is
   * written. Placing stops either way. Returns the leaves accepted, in order.
   */
  async accept(
    unchanged: () => Promise<boolean>,
    hashOf: (index: number) => Buffer | undefined,
  ): Promise<number[]> {
    await this.settle();
    try {
      return await this.acceptLanded(unchanged, hashOf);
    } finally {
      this.#placing.stop();
    }
  }

  /**
   * As `accept`, for the leaves whose placing write has landed so far, without waiting for those in flight
   * and without stopping placing: once the file is known to differ, the scan takes its placed leaves as it
   * goes (issue 16: 16,336 leaves accepted at once took 80-100 ms of a 1 GiB download's end, its main thread
   * otherwise idle during the scan). Returns the leaves accepted, in order.
   */
  async acceptLanded(
    unchanged: () => Promise<boolean>,
    hashOf: (index: number) => Buffer | undefined,
  ): Promise<number[]> {
    const placing = this.#placing;
    const placed = placing.stopped ? [] : placing.placedLeaves();
    if (placed.length === 0 || !(await unchanged())) return [];
    const accepted: number[] = [];
    for (const index of placed) {
      const hash = hashOf(index);
      // Still placed after the check (nothing wrote over it meanwhile), and taken once.
      if (hash === undefined || placing.take(index, 1) !== 1) continue;
      // The rules take the leaf, a chunk of its own, as a received one whose hash is the scan's of the bytes
      // placed (a chunk at a time: per leaf through a carrier, a third of the client's main thread).
      this.#partial.acceptPlacedChunk(index, [hash], hash);
      accepted.push(index);
    }
    return accepted;
  }

  /**
   * As `acceptLanded`, for leaves `[first, first + count)` only, without a check of its own: the caller checked
   * the old file's identity after their writes landed (and after their bytes were hashed) and found it the
   * version opened. Those still placed become verified chunks. Returns the leaves accepted, in order.
   */
  acceptChecked(first: number, count: number, hashOf: (index: number) => Buffer | undefined): number[] {
    const accepted: number[] = [];
    if (this.#placing.stopped) return accepted;
    for (let index = first; index < first + count; index++) {
      const hash = hashOf(index);
      if (hash === undefined || this.#placing.take(index, 1) !== 1) continue;
      this.#partial.acceptPlacedChunk(index, [hash], hash);
      accepted.push(index);
    }
    return accepted;
  }

  /** Placing stops: nothing is placed from now on, and nothing accepted. */
  stop(): void {
    this.#placing.stop();
  }

  /** One sync at a time behind the placed bytes; its failure is the partial's to report (next write, close). */
  #placedBytes(bytes: number): void {
    this.#unsynced += bytes;
    if (this.#unsynced < this.#syncBytes || this.#syncing !== undefined) return;
    this.#unsynced = 0;
    this.#syncing = this.#partial.syncWritten().then(
      () => (this.#syncing = undefined),
      () => undefined,
    );
  }
}
