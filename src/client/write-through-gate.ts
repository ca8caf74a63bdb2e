import { LEAF_BYTES } from '../protocol/index.js';
import { LeafHashesAhead } from '../transfer/index.js';

/**
 * Keeps a delta download's scan from writing where the leaf hash thread may still write its old file's leaves
 * through (`hashInPlace` with the partial, issue 16): the thread writes each whole leaf below `end` where it
 * lies, in order, and one of its writes landing after the scan's own (a leaf found elsewhere, after an
 * insertion; a verified chunk) would put the old bytes back over it. A write at a leaf the thread has
 * already landed, or will never write, goes at once; any other first stops the thread and waits until none
 * of its writes is in flight (from then on every write goes at once). The leaves it wrote count for nothing
 * until the scan takes them (`takeLeaves`).
 */
export class WriteThroughGate {
  #hashing: LeafHashesAhead | undefined;
  /** Leaves below this index are the ones the thread may write. */
  readonly #endLeaves: number;
  #stopping: Promise<void> | undefined;

  /** `known`: what hashes the old file in place (writing through if it was started so); `end`: its bound. */
  constructor(known: unknown, end: number) {
    this.#hashing = known instanceof LeafHashesAhead ? known : undefined;
    this.#endLeaves = Math.floor(end / LEAF_BYTES);
  }

  /**
   * The hashing in place, its leaves written through (`writtenLeaves`) still the thread's where nothing else
   * wrote since; undefined once the scan wrote elsewhere than the thread had written (it was stopped here).
   */
  get hashing(): LeafHashesAhead | undefined {
    return this.#stopping === undefined ? this.#hashing : undefined;
  }

  /**
   * Whether the leaves from byte `at` on may be taken as written through (some are, or may still be): the
   * scan then reads a window only once it knows it must, not ahead.
   */
  mayTake(at: number): boolean {
    const hashing = this.hashing;
    return hashing !== undefined && (hashing.mayWrite || at < hashing.writtenLeaves * LEAF_BYTES);
  }

  /** Leaves below this index may be written through (whole, inside both files). */
  get endLeaves(): number {
    return this.#endLeaves;
  }

  /**
   * Before the scan writes at leaf `index`: undefined when it may write now, else a promise resolved once
   * the thread is stopped and none of its writes is in flight (called once per leaf written: the caller
   * awaits nothing when there is nothing to wait for).
   */
  before(index: number): Promise<void> | undefined {
    const hashing = this.#hashing;
    if (hashing === undefined || !hashing.mayWrite) return undefined;
    if (index >= this.#endLeaves || index < hashing.writtenLeaves) return undefined;
    return (this.#stopping ??= hashing.stop().then(() => (this.#hashing = undefined)));
  }
}
