import { FerryError } from '../errors/index.js';
import {
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_ENTRIES,
  type BatchDoneMessage,
  type BatchEntry,
  type BatchEntryResult,
  type BatchEndMessage,
  type PutBatchMessage,
} from '../protocol/index.js';
import { stepOf, type Transition } from './transition.js';

/**
 * Most batches a client may have sent and not yet seen confirmed, the open one included (PROTOCOL.md §5.14):
 * two, so the next batch travels while the server writes the last one, and a server holds at most two
 * batches (2 x MAX_BATCH_DATA_BYTES) per session.
 */
export const MAX_BATCHES_IN_FLIGHT = 2;

/** The states of a session's batch exchange on the server (PROTOCOL.md §6.9). */
export type BatchReceiverState = 'idle' | 'receiving';

/**
 * The batch exchange on the server (PROTOCOL.md §6.9). Rows whose `next` is `closed` fail the session with
 * the code in their action; an event with no row is MESSAGE_UNEXPECTED.
 */
export const BATCH_RECEIVER_TRANSITIONS = [
  {
    state: 'idle',
    event: 'PUT_BATCH',
    next: 'receiving',
    action: 'a new batch opens; its entries count against MAX_BATCH_ENTRIES and MAX_BATCH_DATA_BYTES (§5.14)',
  },
  {
    state: 'idle',
    event: 'PUT_BATCH with MAX_BATCHES_IN_FLIGHT unconfirmed',
    next: 'closed',
    action: 'MESSAGE_UNEXPECTED: the client did not wait for a BATCH_DONE',
  },
  { state: 'receiving', event: 'PUT_BATCH', next: 'receiving', action: 'more entries of the open batch' },
  {
    state: 'receiving',
    event: 'PUT_BATCH of another ref',
    next: 'closed',
    action: 'MESSAGE_UNEXPECTED: one batch is open at a time',
  },
  {
    state: 'receiving',
    event: 'PUT_BATCH breaking a batch rule',
    next: 'closed',
    action:
      'MESSAGE_MALFORMED: past a limit, another OVERWRITE or chunkBytes, or a path already in the batch',
  },
  {
    state: 'receiving',
    event: 'BATCH_END',
    next: 'idle',
    action: 'entries were staged as their records came; the writer places their names, then BATCH_DONE',
  },
  {
    state: 'receiving',
    event: 'BATCH_END with another count',
    next: 'closed',
    action: 'MESSAGE_MALFORMED',
  },
  ...(['idle', 'receiving'] as const).map(
    (state) =>
      ({
        state,
        event: 'batch settled',
        next: state,
        action: 'BATCH_DONE: one result per entry, in batch order; placed files are durable',
      }) as const,
  ),
] as const satisfies readonly Transition[];

type BatchEvent = (typeof BATCH_RECEIVER_TRANSITIONS)[number]['event'];

/** A complete batch, for the server's writer (PROTOCOL.md §5.14). */
export interface ReceivedBatch {
  readonly ref: number;
  readonly overwrite: boolean;
  readonly chunkBytes: number;
  readonly entries: readonly BatchEntry[];
}

/**
 * The rules of the batch exchange on the server as a pure machine (PROTOCOL.md §5.14, §6.9): one batch open
 * at a time, its records agree with each other, its bounds hold, its end names its size, at most
 * MAX_BATCHES_IN_FLIGHT batches unconfirmed, and one BATCH_DONE per batch with a result for every entry.
 */
export class BatchReceiver {
  #state: BatchReceiverState = 'idle';
  #open:
    { ref: number; overwrite: boolean; chunkBytes: number; entries: BatchEntry[]; bytes: number } | undefined;
  #paths = new Set<string>();
  /** Batches ended and not yet confirmed, by ref, with their entry count. */
  readonly #unconfirmed = new Map<number, number>();

  get state(): BatchReceiverState {
    return this.#state;
  }

  /** Batches sent and not confirmed yet, the open one included. */
  get inFlight(): number {
    return this.#unconfirmed.size + (this.#open ? 1 : 0);
  }

  /** Takes one PUT_BATCH; throws a coded error that ends the session when it breaks a rule. */
  receive(message: PutBatchMessage): void {
    const open = this.#open;
    if (!open) {
      if (this.#unconfirmed.size >= MAX_BATCHES_IN_FLIGHT || this.#unconfirmed.has(message.ref))
        this.#fail(
          'PUT_BATCH with MAX_BATCHES_IN_FLIGHT unconfirmed',
          'MESSAGE_UNEXPECTED',
          'too many batches unconfirmed',
        );
      this.#step('PUT_BATCH');
      this.#open = {
        ref: message.ref,
        overwrite: message.overwrite,
        chunkBytes: message.chunkBytes,
        entries: [],
        bytes: 0,
      };
      this.#paths = new Set();
    } else {
      if (open.ref !== message.ref)
        this.#fail('PUT_BATCH of another ref', 'MESSAGE_UNEXPECTED', `batch ${open.ref} is open`);
      if (open.overwrite !== message.overwrite || open.chunkBytes !== message.chunkBytes)
        this.#fail('PUT_BATCH breaking a batch rule', 'MESSAGE_MALFORMED', 'flags or chunkBytes changed');
      this.#step('PUT_BATCH');
    }
    const batch = this.#open!;
    for (const entry of message.entries) {
      if (batch.entries.length >= MAX_BATCH_ENTRIES)
        this.#fail(
          'PUT_BATCH breaking a batch rule',
          'MESSAGE_MALFORMED',
          `more than ${MAX_BATCH_ENTRIES} entries`,
        );
      batch.bytes += entry.size;
      if (batch.bytes > MAX_BATCH_DATA_BYTES)
        this.#fail(
          'PUT_BATCH breaking a batch rule',
          'MESSAGE_MALFORMED',
          `more than ${MAX_BATCH_DATA_BYTES} bytes`,
        );
      // Two entries for one name would race each other into place: the batch is malformed.
      if (this.#paths.has(entry.path))
        this.#fail(
          'PUT_BATCH breaking a batch rule',
          'MESSAGE_MALFORMED',
          `entry ${batch.entries.length} repeats a path`,
        );
      this.#paths.add(entry.path);
      batch.entries.push(entry);
    }
  }

  /** Takes BATCH_END: returns the whole batch for the writer. */
  end(message: BatchEndMessage): ReceivedBatch {
    const open = this.#open;
    if (open && (open.ref !== message.ref || open.entries.length !== message.totalEntries))
      this.#fail(
        'BATCH_END with another count',
        'MESSAGE_MALFORMED',
        `batch ${message.ref} ends with ${message.totalEntries} entries, ${open.entries.length} received`,
      );
    this.#step('BATCH_END');
    this.#open = undefined;
    this.#paths = new Set();
    this.#unconfirmed.set(open!.ref, open!.entries.length);
    return {
      ref: open!.ref,
      overwrite: open!.overwrite,
      chunkBytes: open!.chunkBytes,
      entries: open!.entries,
    };
  }

  /** The writer settled every entry of batch `ref`: the BATCH_DONE to send. */
  settled(ref: number, results: readonly BatchEntryResult[]): BatchDoneMessage {
    const count = this.#unconfirmed.get(ref);
    if (count === undefined || count !== results.length)
      throw new FerryError(
        'INTERNAL',
        `batch ${ref}: ${results.length} results for ${count ?? 'no'} entries`,
      );
    this.#step('batch settled');
    this.#unconfirmed.delete(ref);
    return { type: 'BATCH_DONE', ref, results: [...results] };
  }

  #fail(event: BatchEvent, code: 'MESSAGE_UNEXPECTED' | 'MESSAGE_MALFORMED', detail: string): never {
    stepOf(BATCH_RECEIVER_TRANSITIONS, this.#state, event);
    throw new FerryError(code, `put_batch: ${detail}`);
  }

  #step(event: BatchEvent): void {
    this.#state = stepOf(BATCH_RECEIVER_TRANSITIONS, this.#state, event).next as BatchReceiverState;
  }
}
