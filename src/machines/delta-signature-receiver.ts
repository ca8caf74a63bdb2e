import { FerryError } from '../errors/index.js';
import {
  DeltaSignatureBuilder,
  deltaBlockBytesFor,
  deltaBlockCount,
  type DeltaSignature,
  type GetOfferMessage,
  type Message,
} from '../protocol/index.js';
import { DeltaBlocksReceiver } from './delta-blocks-receiver.js';
import { stepOf } from './transition.js';

/**
 * The client's table for the answer to a GET_REQUEST with SIGNATURE (PROTOCOL.md §5.17.2, §6.11): the offer,
 * the signature's records, the digest. A server that sends no signature (a file of more leaves than a
 * signature may have) sends the file: the answer is then a plain download's.
 */
export const DELTA_SIGNATURE_TRANSITIONS = [
  {
    state: 'waiting',
    event: 'GET_OFFER with SIGNATURE',
    next: 'signing',
    action: 'keep the offer; the signature follows (§5.17.2)',
  },
  {
    state: 'waiting',
    event: 'GET_OFFER with SIGNATURE, empty file',
    next: 'ending',
    action: 'keep the offer; an empty file has no leaf (§5.17.2)',
  },
  {
    state: 'waiting',
    event: 'GET_OFFER without SIGNATURE',
    next: 'plain',
    action: 'receive the file as a download without held chunks (§5.11.2)',
  },
  {
    state: 'signing',
    event: 'DELTA_BLOCKS, more to come',
    next: 'signing',
    action: 'keep the blocks (§5.15.2)',
  },
  {
    state: 'signing',
    event: 'DELTA_BLOCKS, last',
    next: 'ending',
    action: 'keep the blocks; the signature is whole',
  },
  {
    state: 'ending',
    event: 'GET_END',
    next: 'complete',
    action: 'keep the digest; find the leaves in the old file, then ask for the rest (§5.17.3)',
  },
] as const;

type Row = (typeof DELTA_SIGNATURE_TRANSITIONS)[number];
export type DeltaSignatureState = Row['state'] | Row['next'];

/** A complete answer: the file's facts, its signature and its digest (PROTOCOL.md §5.17.2). */
export interface SignedFile {
  readonly offer: GetOfferMessage;
  readonly signature: DeltaSignature;
  readonly digest: Buffer;
}

/**
 * Checks the answer to a SIGNATURE request message by message (PROTOCOL.md §5.17.2): the records must
 * describe the offered size (so the client's memory for them is fixed by the offer, at most 2^18 records of
 * 20 bytes), continue one another (DeltaBlocksReceiver, §6.10's rules), and come before GET_END. Any other
 * message of the ref fails with MESSAGE_UNEXPECTED.
 */
export class DeltaSignatureReceiver {
  #state: DeltaSignatureState = 'waiting';
  #offer: GetOfferMessage | undefined;
  readonly #blocks = new DeltaBlocksReceiver();
  #signature: DeltaSignature | undefined;

  get state(): DeltaSignatureState {
    return this.#state;
  }

  /** The offer, once received (the only thing a `plain` answer has). */
  get offer(): GetOfferMessage | undefined {
    return this.#offer;
  }

  /** The signature's records so far (`DeltaBlocksReceiver.arrived`), before GET_END says it is whole. */
  get arrived(): { signature: DeltaSignature; blocks: number } | undefined {
    return this.#blocks.arrived;
  }

  /**
   * Feeds the next message of the ref. Returns the signed file once GET_END arrived; `plain` state means the
   * server sends the file instead (the caller receives it as a download holding nothing).
   */
  receive(message: Message): SignedFile | undefined {
    switch (message.type) {
      case 'GET_OFFER': {
        if (message.heldAccepted || message.striped)
          throw new FerryError('MESSAGE_MALFORMED', 'a signature answer accepted a held set or a stripe');
        const event = !message.signature
          ? 'GET_OFFER without SIGNATURE'
          : message.size === 0
            ? 'GET_OFFER with SIGNATURE, empty file'
            : 'GET_OFFER with SIGNATURE';
        this.#step(event);
        this.#offer = message;
        if (message.signature && message.size === 0) this.#signature = new DeltaSignatureBuilder(0).finish();
        return undefined;
      }
      case 'DELTA_BLOCKS': {
        // The first record fixes the size the receiver allots for; it must be the offered file's.
        if (this.#state === 'signing' && message.oldSize !== this.#offer!.size)
          throw new FerryError(
            'MESSAGE_MALFORMED',
            `delta_blocks for ${message.oldSize} bytes, offered ${this.#offer!.size}`,
          );
        const last =
          message.firstBlock + message.weak.length === deltaBlockCount(message.oldSize, message.blockBytes);
        this.#step(last ? 'DELTA_BLOCKS, last' : 'DELTA_BLOCKS, more to come');
        // PROTOCOL.md §5.17.2: a download's blocks are those §5.15.2's rule picks for the offered size (leaves
        // from 16 MiB on, whose hashes a claim can prove), so the client's memory for them is fixed by the offer.
        const blockBytes = deltaBlockBytesFor(message.oldSize);
        if (message.blockBytes !== blockBytes)
          throw new FerryError(
            'MESSAGE_MALFORMED',
            `delta_blocks of a ${message.oldSize}-byte download are ${blockBytes} bytes, got ${message.blockBytes}`,
          );
        const signature = this.#blocks.receive(message);
        if (signature) this.#signature = signature;
        return undefined;
      }
      case 'GET_END':
        this.#step('GET_END');
        return { offer: this.#offer!, signature: this.#signature!, digest: message.fileDigest };
      default:
        this.#step(message.type);
        throw new FerryError('INTERNAL', 'unreachable');
    }
  }

  #step(event: string): Row {
    const row = stepOf(DELTA_SIGNATURE_TRANSITIONS, this.#state, event);
    this.#state = row.next;
    return row;
  }
}
