import { Wakeup } from '../transfer/index.js';

/**
 * Uploads finishing (fsync, rename, fsync directory) in the background, so the next transfers overlap them
 * (many small files do not wait on each fsync), at most `most` at once.
 */
export class BackgroundFinishes {
  readonly #most: number;
  /** Each settles, never rejects. */
  readonly #running = new Set<Promise<void>>();
  /** Woken as each finish settles (one promise for every waiter, not a race over the running set). */
  readonly #freed = new Wakeup();

  constructor(most: number) {
    this.#most = most;
  }

  /**
   * Starts `finish` once a slot is free and returns it (wrapped: a promise resolving to a promise would wait
   * for it); it is tracked until it settles.
   */
  async start(finish: () => Promise<void>): Promise<{ readonly finished: Promise<void> }> {
    while (this.#running.size >= this.#most) await this.#freed.next();
    const finished = finish();
    // Tracked settled, never rejecting: `allSettled` only waits for it to be over.
    const tracked = finished
      .catch(() => undefined)
      .finally(() => {
        this.#running.delete(tracked);
        this.#freed.wake();
      });
    this.#running.add(tracked);
    return { finished };
  }

  /** Finishes running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Resolves once every finish started so far is over. */
  async allSettled(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }
}
