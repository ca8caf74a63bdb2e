import { FerryError } from '../errors/index.js';
import type { GetBatchEntry, Message } from '../protocol/index.js';
import { stepOf, type Transition } from './transition.js';

/** Where a batched download's answer stands on the client (PROTOCOL.md §5.20, §6.12). */
export type GetBatchReceiverState = 'receiving' | 'answered' | 'refused';

/**
 * The client's table for the answer to one GET_BATCH (PROTOCOL.md §6.12). Rows whose next state is `closed`
 * fail the session with the code in their action; an event with no row is MESSAGE_UNEXPECTED.
 */
export const GET_BATCH_RECEIVER_TRANSITIONS = [
  {
    state: 'receiving',
    event: 'GET_BATCH_DATA',
    next: 'receiving',
    action: 'its entries answer the next paths of the request, in order',
  },
  {
    state: 'receiving',
    event: 'GET_BATCH_DATA answering the last path',
    next: 'answered',
    action: 'every path is answered: the files are verified and placed',
  },
  {
    state: 'receiving',
    event: 'GET_BATCH_DATA past the last path',
    next: 'closed',
    action: 'MESSAGE_MALFORMED',
  },
  {
    state: 'receiving',
    event: 'ERROR',
    next: 'refused',
    action: 'the paths not answered yet go the one-file path (§5.11); the answered ones stand',
  },
] as const satisfies readonly Transition[];

type GetBatchEvent = (typeof GET_BATCH_RECEIVER_TRANSITIONS)[number]['event'];

/** The entries of one GET_BATCH_DATA, with the index in the request of the first. */
export interface AnsweredEntries {
  readonly first: number;
  readonly entries: readonly GetBatchEntry[];
}

/**
 * The rules of a GET_BATCH's answer as a pure machine (PROTOCOL.md §5.20, §6.12): GET_BATCH_DATA records
 * answer the `count` paths asked for, in request order, each path exactly once; an ERROR for the ref ends the
 * batch with the rest unanswered. What a record's entries hold (sizes, codes) the codec already checked.
 */
export class GetBatchReceiver {
  readonly #count: number;
  #answered = 0;
  #state: GetBatchReceiverState = 'receiving';

  /** For a request of `count` paths (1..MAX_BATCH_ENTRIES). */
  constructor(count: number) {
    this.#count = count;
  }

  get state(): GetBatchReceiverState {
    return this.#state;
  }

  /** Paths answered so far; after a refusal, the ones from here on were not. */
  get answered(): number {
    return this.#answered;
  }

  /** One message of the batch's ref: its entries and where they start in the request. */
  receive(message: Message): AnsweredEntries {
    if (message.type !== 'GET_BATCH_DATA') {
      // No row: MESSAGE_UNEXPECTED, naming the message rather than the state.
      throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} answering a GET_BATCH`);
    }
    const first = this.#answered;
    const after = first + message.entries.length;
    if (after > this.#count) {
      this.#step('GET_BATCH_DATA past the last path');
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `get_batch_data answers ${after} paths of a request for ${this.#count}`,
      );
    }
    this.#step(after === this.#count ? 'GET_BATCH_DATA answering the last path' : 'GET_BATCH_DATA');
    this.#answered = after;
    return { first, entries: message.entries };
  }

  /** An ERROR for the ref (PROTOCOL.md §5.1): the paths from `answered` on were not answered. */
  refused(): void {
    this.#step('ERROR');
  }

  #step(event: GetBatchEvent): void {
    const row = stepOf(GET_BATCH_RECEIVER_TRANSITIONS, this.#state, event);
    if (row.next === 'closed') return;
    this.#state = row.next;
  }
}
