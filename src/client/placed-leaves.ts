import { LEAF_BYTES } from '../protocol/index.js';
import type { PartialTransfer } from '../transfer/index.js';

/** What placing writes into and accepts from: the download's partial. */
export type PlacingPartial = Pick<
  PartialTransfer<unknown>,
  'placeUnverified' | 'acceptPlacedLeaves' | 'completeChunk'
>;

/**
 * The leaves a delta download's scan found in place in its old file (same size, before the first
 * difference, PROTOCOL.md §5.17.3) and wrote into the partial at once, from the very window buffer the scan
 * hashed them in, outside the partial's rules (`placeUnverified`), before the digest can say whether the old
 * file is the server's (issue 16: the scan read them, and they were read a second time to be written once a
 * difference showed up). The delta upload's server does the same while it signs (`delta-old-file.ts`).
 *
 * A leaf is marked only once its write has landed, and only while placing is on; any other write over it
 * clears it (`overwrite`). The marks are taken (`accept`) only while the old file's identity (device, inode,
 * size, mtime and ctime in ns) is the one it had when opened, after every read: any write moves its ctime,
 * so the bytes placed are the bytes the old file held and the scan hashed. Otherwise nothing is accepted and
 * the caller reads those leaves again. Chunks accepted are still claimed (the server checks the claim) and
 * the whole file's digest is checked before the rename.
 */
export class PlacedLeaves {
  readonly #partial: PlacingPartial;
  /** 1 for a leaf whose placing write landed and that nothing wrote over since; undefined once stopped. */
  #marks: Uint8Array | undefined;
  readonly #pending = new Set<Promise<void>>();

  constructor(partial: PlacingPartial, size: number) {
    this.#partial = partial;
    this.#marks = new Uint8Array(Math.ceil(size / LEAF_BYTES));
  }

  /**
   * Writes `leaves` (whole leaves, contiguous from leaf `first`) where they lie, without waiting: the
   * caller keeps the buffers unchanged until the partial's writes have landed (`flushWrites`). A write that
   * fails leaves its leaves unmarked: they are read again.
   */
  place(first: number, leaves: readonly Buffer[]): void {
    const marks = this.#marks;
    if (marks === undefined || leaves.length === 0) return;
    if (leaves.some((leaf) => leaf.length !== LEAF_BYTES))
      throw new RangeError('only whole leaves are placed (a leaf hint stands for LEAF_BYTES bytes)');
    const write = this.#partial.placeUnverified(first * LEAF_BYTES, leaves).then(
      // Marked once landed, and only while placing is on (a write in flight when it stopped is not).
      () => {
        if (this.#marks === marks) marks.fill(1, first, first + leaves.length);
      },
      () => undefined,
    );
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
  }

  /** Whether leaf `index` is placed and nothing wrote over it since. */
  has(index: number): boolean {
    return this.#marks?.[index] === 1;
  }

  /**
   * Another write is about to land on leaf `index`: it is no longer placed, and a placing write still in
   * flight lands first, so the other write is the one that stays.
   */
  async overwrite(index: number): Promise<void> {
    if (this.#marks === undefined) return;
    // Cleared after any placing write in flight landed, which would mark it again.
    await this.settle();
    if (this.#marks !== undefined) this.#marks[index] = 0;
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
    const marks = this.#marks;
    this.#marks = undefined;
    if (marks === undefined || !marks.includes(1) || !(await unchanged())) return [];
    const accepted: number[] = [];
    for (let index = marks.indexOf(1); index >= 0; index = marks.indexOf(1, index + 1)) {
      const hash = hashOf(index);
      if (hash === undefined) continue;
      // The rules check and hash the leaf as a received one (the hint is the scan's hash of the bytes placed).
      this.#partial.acceptPlacedLeaves(index * LEAF_BYTES, [hash]);
      this.#partial.completeChunk(index, hash);
      accepted.push(index);
    }
    return accepted;
  }

  /** Placing stops: no leaf is marked from now on, and none is accepted. */
  stop(): void {
    this.#marks = undefined;
  }
}
