import type { ChunkEntry } from './chunk-states.js';
import type { MakeDurableEffect } from './receiver-effects.js';

/**
 * The chunks a receiver verified that are not durable yet (PROTOCOL.md §9.2): made durable in one batch once
 * they add up to the batch size, or whatever is left when the transfer ends or closes. A batch of a single
 * fsync of the data and one of the log, not one pair per chunk; the receiver counts them held only once the
 * store confirms it (`ReceiverMachine.durable`).
 */
export class VerifiedBatch {
  readonly #batchBytes: number;
  #pending: ChunkEntry[] = [];
  #pendingBytes = 0;

  constructor(batchBytes: number) {
    this.#batchBytes = batchBytes;
  }

  /** Chunk `entry` of `bytes` is verified: the batch, taken, once it adds up; else nothing. */
  add(entry: ChunkEntry, bytes: number): MakeDurableEffect | undefined {
    this.#pending.push(entry);
    this.#pendingBytes += bytes;
    return this.#pendingBytes >= this.#batchBytes ? this.take() : undefined;
  }

  /** Whatever is pending, to be made durable now; nothing when none is. */
  take(): MakeDurableEffect | undefined {
    if (this.#pending.length === 0) return undefined;
    const entries = this.#pending;
    this.drop();
    return { kind: 'make-durable', entries };
  }

  /** Forgets what is pending: it will never be made durable (the partial is discarded). */
  drop(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}
