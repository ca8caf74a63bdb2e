import { MAX_PIPELINED } from '../protocol/index.js';

/**
 * The operations of a pipelined run (PROTOCOL.md §5.8) that are sent but not yet answered, oldest first.
 * `add` waits for the oldest to settle once MAX_PIPELINED are in flight; each settled result lands at its
 * index in `results`, which outlives a session so a retry skips what is done.
 */
export class InFlightWindow<R> {
  readonly #results: R[];
  readonly #onSettled: () => void;
  readonly #queue: Array<
    { index: number; done: Promise<R> } | { indexes: readonly number[]; done: Promise<R[]> }
  > = [];

  constructor(results: R[], onSettled: () => void) {
    this.#results = results;
    this.#onSettled = onSettled;
  }

  /** Makes room (waiting for the oldest if the window is full), then starts operation `index`. */
  async add(index: number, start: () => Promise<{ done: Promise<R> }>): Promise<void> {
    if (this.#queue.length >= MAX_PIPELINED) await this.#settleOldest();
    const { done } = await start();
    this.#queue.push({ index, done });
  }

  /**
   * Like `add`, for one operation that settles several jobs at once (a batch of small files, PROTOCOL.md
   * §5.14): it takes one place in the window, and its results land at `indexes`.
   */
  async addGroup(indexes: readonly number[], start: () => Promise<{ done: Promise<R[]> }>): Promise<void> {
    if (this.#queue.length >= MAX_PIPELINED) await this.#settleOldest();
    const { done } = await start();
    this.#queue.push({ indexes, done });
  }

  /**
   * Waits for the operations in flight that hold a job `holds` picks, and leaves them in the window (their
   * results land in order later, where a failure is met).
   */
  async settledWhere(holds: (index: number) => boolean): Promise<void> {
    const picked = this.#queue.filter((job) =>
      'indexes' in job ? job.indexes.some(holds) : holds(job.index),
    );
    await Promise.allSettled(picked.map((job) => job.done));
  }

  /** Waits for every operation in flight, in order; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#settleOldest();
  }

  /**
   * After a failure: the operations still in flight, taken out of the window, for the session's
   * `leaveRunning` (settled once the session is closed).
   */
  leftOver(): Array<Promise<unknown>> {
    return this.#queue.splice(0).map((job) => job.done);
  }

  async #settleOldest(): Promise<void> {
    const oldest = this.#queue.shift()!;
    if ('indexes' in oldest) {
      const results = await oldest.done;
      oldest.indexes.forEach((index, k) => (this.#results[index] = results[k]!));
    } else this.#results[oldest.index] = await oldest.done;
    this.#onSettled();
  }
}
