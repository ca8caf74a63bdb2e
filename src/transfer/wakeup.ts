/**
 * Wakes everyone waiting for a change (a write landed, a slot came free) at once, through one promise per
 * wake that they share. What it replaces, `while (full) await Promise.race(inFlight)`, put a reaction on
 * every promise in flight for each waiter at each turn: a download on 16 streams writing into one file kept
 * ~130 batches in flight with up to 16 writers waiting, and its client spent 20 CPU s per GiB settling those
 * reactions and collecting them (3.3 on one stream).
 */
export class Wakeup {
  #next: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;

  /** Resolves at the next {@link wake}; callers re-check what they wait for, as with a condition variable. */
  next(): Promise<void> {
    if (this.#next === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#next = { promise, resolve };
    }
    return this.#next.promise;
  }

  /** Resolves every promise {@link next} gave out so far. */
  wake(): void {
    const next = this.#next;
    this.#next = undefined;
    next?.resolve();
  }
}
