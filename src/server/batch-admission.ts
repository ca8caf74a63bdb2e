import { MAX_BATCH_DATA_BYTES } from '../protocol/index.js';
import { queuedUntilAdmitted } from './queued-until-admitted.js';

/**
 * Batches (PROTOCOL.md §5.14) one client may have open on the server at once, over all its sessions: 16 MiB of
 * data. The server's one placing thread takes batches in turn, so more at once would not place faster.
 */
export const MAX_OPEN_BATCHES_PER_CLIENT = 8;
/** Batches all clients together may have open at once: at most 256 MiB of file data held for them. */
export const MAX_OPEN_BATCHES_TOTAL = 128;

export interface BatchAdmissionOptions {
  /** Open batches per client (default MAX_OPEN_BATCHES_PER_CLIENT). */
  perClient?: number;
  /** Open batches in total (default MAX_OPEN_BATCHES_TOTAL). */
  total?: number;
}

/**
 * Bounds the batch data the server holds in memory, per client and in total. A batch's entries stay in memory
 * from their record until the batch is placed or dropped (BatchUploads), and a session may keep two batches
 * open without ending them for as long as it lives: 32 sessions of one key held 236 MiB of the server's RSS
 * (measured), and every admitted key as much again. So a batch is admitted at its first record, counted as a
 * whole batch (MAX_BATCH_DATA_BYTES: its size is not known yet) until it is done with, and a batch that does
 * not fit waits, in arrival order, with its session's reading (TCP pushes back on the client): never refused,
 * so an honest sender only slows down. Admitting whole batches means an admitted batch can always be received
 * to its end, so sessions waiting here never wait on one another's half-received batches.
 */
export class BatchAdmission {
  readonly #perClient: number;
  readonly #total: number;
  readonly #open = new Map<string, number>();
  #openTotal = 0;
  readonly #waiting: Array<{ client: string; admit: () => void }> = [];

  constructor(options: BatchAdmissionOptions = {}) {
    this.#perClient = Math.max(1, options.perClient ?? MAX_OPEN_BATCHES_PER_CLIENT);
    this.#total = Math.max(1, options.total ?? MAX_OPEN_BATCHES_TOTAL);
  }

  /** The most batch data all clients together can make the server hold. */
  get maxHeldBytes(): number {
    return this.#total * MAX_BATCH_DATA_BYTES;
  }

  /**
   * Resolves once one more batch of `client` (its key, hex) fits, with the batch's release: call it, once, when
   * the batch is placed or dropped (a second call does nothing). With `signal` (its connection's), a batch
   * still waiting when it aborts leaves the queue and rejects with its reason: a client that hung up must not
   * leave a waiter (and its session, with the batch's first record) behind.
   */
  async admit(client: string, signal?: AbortSignal): Promise<() => void> {
    // A batch waiting never fits (each release wakes the first that does), so one that fits goes at once.
    if (this.#fits(client) && !signal?.aborted) this.#take(client);
    else await queuedUntilAdmitted(this.#waiting, (admit) => ({ client, admit }), signal); // taken when woken
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#give(client);
    };
  }

  #fits(client: string): boolean {
    return this.#openTotal < this.#total && (this.#open.get(client) ?? 0) < this.#perClient;
  }

  #take(client: string): void {
    this.#open.set(client, (this.#open.get(client) ?? 0) + 1);
    this.#openTotal++;
  }

  #give(client: string): void {
    const open = (this.#open.get(client) ?? 1) - 1;
    if (open > 0) this.#open.set(client, open);
    else this.#open.delete(client);
    this.#openTotal--;
    // The first waiting batch that fits goes next, in arrival order: a client at its own limit does not
    // hold back others while the total has room. Its place is taken here, before anyone else can ask.
    const next = this.#waiting.findIndex((waiter) => this.#fits(waiter.client));
    if (next < 0) return;
    const [waiter] = this.#waiting.splice(next, 1);
    this.#take(waiter!.client);
    waiter!.admit();
  }
}
