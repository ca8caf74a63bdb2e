import { FerryError } from '../errors/index.js';
import {
  DeltaSignatureBuilder,
  deltaBlockCount,
  type DeltaBlocksMessage,
  type DeltaSignature,
  type Message,
} from '../protocol/index.js';
import { stepOf } from './transition.js';

/** The client's states while a delta upload's signature arrives (PROTOCOL.md §5.15.2, §6.10). */
export type DeltaBlocksState = 'waiting' | 'receiving' | 'complete';

/**
 * The client's table for the signature of a delta upload (PROTOCOL.md §6.10), from the PUT_ACCEPT with
 * `DELTA` until the last DELTA_BLOCKS record. A record that does not continue the signature fails with
 * MESSAGE_MALFORMED; any other message of the ref before it is complete with MESSAGE_UNEXPECTED (stepOf).
 */
export const DELTA_BLOCKS_TRANSITIONS = [
  {
    state: 'waiting',
    event: 'DELTA_BLOCKS, first, more to come',
    next: 'receiving',
    action: 'keep the blocks (§5.15.2)',
  },
  {
    state: 'waiting',
    event: 'DELTA_BLOCKS, first and last',
    next: 'complete',
    action: 'keep the blocks; the signature is whole: send the chunks not held (§5.15.3)',
  },
  {
    state: 'receiving',
    event: 'DELTA_BLOCKS, more to come',
    next: 'receiving',
    action: 'keep the blocks (§5.15.2)',
  },
  {
    state: 'receiving',
    event: 'DELTA_BLOCKS, last',
    next: 'complete',
    action: 'keep the blocks; the signature is whole: send the chunks not held (§5.15.3)',
  },
] as const;

/**
 * Collects the DELTA_BLOCKS records that follow a PUT_ACCEPT with `DELTA` into the old file's signature,
 * checking that they continue one another and stay inside the bounds of §5.15 (so memory is bounded by
 * MAX_DELTA_BLOCKS records of 20 bytes, fixed by the first record).
 */
export class DeltaBlocksReceiver {
  #state: DeltaBlocksState = 'waiting';
  #builder: DeltaSignatureBuilder | undefined;
  #total = 0;
  #oldSize = 0;
  #blockBytes = 0;

  get state(): DeltaBlocksState {
    return this.#state;
  }

  /**
   * The signature so far, once a record arrived: its arrays at full size with the first `blocks` filled in
   * (PROTOCOL.md §5.17: a delta download's scan starts on them while the rest arrives).
   */
  get arrived(): { signature: DeltaSignature; blocks: number } | undefined {
    const builder = this.#builder;
    return builder && { signature: builder.growing, blocks: builder.count };
  }

  /** Feeds the next message of the ref; returns the signature once the last record arrived. */
  receive(message: Message): DeltaSignature | undefined {
    if (message.type !== 'DELTA_BLOCKS') {
      stepOf(DELTA_BLOCKS_TRANSITIONS, this.#state, message.type);
      throw new FerryError('INTERNAL', 'unreachable');
    }
    const first = this.#state === 'waiting';
    if (first) {
      this.#oldSize = message.oldSize;
      this.#blockBytes = message.blockBytes;
      this.#total = deltaBlockCount(message.oldSize, message.blockBytes);
      this.#builder = new DeltaSignatureBuilder(message.oldSize, message.blockBytes);
    }
    this.#check(message);
    const last = message.firstBlock + message.weak.length === this.#total;
    const event = first
      ? last
        ? 'DELTA_BLOCKS, first and last'
        : 'DELTA_BLOCKS, first, more to come'
      : last
        ? 'DELTA_BLOCKS, last'
        : 'DELTA_BLOCKS, more to come';
    const row = stepOf(DELTA_BLOCKS_TRANSITIONS, this.#state, event);
    const builder = this.#builder!;
    for (let i = 0; i < message.weak.length; i++) {
      builder.addRecord(message.weak[i]!, message.strong.subarray(i * 16, (i + 1) * 16));
    }
    this.#state = row.next;
    return row.next === 'complete' ? builder.finish() : undefined;
  }

  #check(message: DeltaBlocksMessage): void {
    if (this.#state === 'complete') throw new FerryError('MESSAGE_UNEXPECTED', 'DELTA_BLOCKS after the last');
    if (message.oldSize !== this.#oldSize || message.blockBytes !== this.#blockBytes)
      throw new FerryError('MESSAGE_MALFORMED', 'delta_blocks: oldSize or blockBytes changed');
    if (message.firstBlock !== this.#builder!.count)
      throw new FerryError('MESSAGE_MALFORMED', 'delta_blocks: not the next block');
  }
}
