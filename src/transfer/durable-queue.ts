import type { ChunkEntry } from './chunk-log.js';
import type { StoredPartial } from './partial-store.js';

/**
 * A partial's make-durable steps, applied one after another behind the receiving, so fsync overlaps it
 * (PROTOCOL.md §9.2): each makes the data durable, then logs the entries that vouch for it (a crash between
 * the two only forgets chunks). A step that fails (disk full) is kept, never left unhandled, and reported by
 * the next write (`throwIfFailed`) or by the finish or close that waits for the queue (`settled`).
 */
export class DurableQueue {
  readonly #stored: Pick<StoredPartial<unknown>, 'makeDurable'>;
  /** Told the entries of each step once they are durable and logged. */
  readonly #onDurable: (entries: ChunkEntry[]) => void;
  /** The make-durable effects, applied one after another behind the receiving, so fsync overlaps it. */
  #flushing: Promise<void> = Promise.resolve();
  /**
   * The entries of the make-durable effect queued behind the running one and not started yet: effects that
   * come meanwhile join it, so a burst of batches (a delta's leaves accepted at once: 64 batches of 16 MiB
   * for 1 GiB) costs one sync of the data and one of the log instead of one pair each.
   */
  #queued: ChunkEntry[] | undefined;
  #flushError: Error | undefined;

  constructor(
    stored: Pick<StoredPartial<unknown>, 'makeDurable'>,
    onDurable: (entries: ChunkEntry[]) => void,
  ) {
    this.#stored = stored;
    this.#onDurable = onDurable;
  }

  /** Throws the first failure of a step, for the next write to report. */
  throwIfFailed(): void {
    if (this.#flushError !== undefined) throw this.#flushError;
  }

  /** Resolves once every step queued so far is done; rejects when one failed. */
  settled(): Promise<void> {
    return this.#flushing;
  }

  /**
   * Queues a make-durable step for `entries` behind any running one; `onDurable` hears of them once they are
   * durable and logged.
   */
  makeDurable(entries: readonly ChunkEntry[]): void {
    // Joined to the effect still waiting its turn: it makes durable every byte written before it starts
    // (the store flushes its writes first), which includes the data of these chunks, written before they
    // were verified. Issue 16: a 1 GiB delta download spent 1-3 s on 64 pairs of syncs in a row.
    if (this.#queued !== undefined) {
      this.#queued.push(...entries);
      return;
    }
    const batch = [...entries];
    this.#queued = batch;
    // Failures are kept by `#then` for the next write, finish or close to report.
    void this.#then(async () => {
      if (this.#queued === batch) this.#queued = undefined;
      await this.#stored.makeDurable(batch);
      this.#onDurable(batch);
    });
  }

  /**
   * Makes every byte written so far durable, vouching for nothing (no log entry), queued like a step and
   * resolving once done (`PartialTransfer.syncWritten`).
   */
  syncWritten(): Promise<void> {
    return this.#then(() => this.#stored.makeDurable([]));
  }

  #then(step: () => Promise<void>): Promise<void> {
    this.#flushing = this.#flushing.then(step);
    // A failed flush (disk full) is reported by the next write or by finish/close, never left unhandled.
    this.#flushing.catch((err: unknown) => {
      this.#flushError ??= err instanceof Error ? err : new Error(String(err));
    });
    return this.#flushing;
  }
}
