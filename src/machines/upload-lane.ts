import { FerryError } from '../errors/index.js';
import type { Message } from '../protocol/index.js';
import { stepOf, type Transition } from './transition.js';
import { MAX_BATCHES_IN_FLIGHT } from './batch-receiver.js';

/** The two states of an open session on the server: no upload open, or one receiving (PROTOCOL.md §6.1). */
export type UploadLaneState = 'open' | 'uploading';

const EVERY_STATE = ['open', 'uploading'] as const;

/** Rows that read the same in either state: the operations that are not the upload's. */
function inEveryState<const E extends string, const A extends string>(event: E, action: A) {
  return EVERY_STATE.map((state) => ({ state, event, next: state, action }) as const);
}

/**
 * The session's table on the server (PROTOCOL.md §6.1), once WELCOME is sent. A message of a ref that is
 * neither open nor discarded, a PUT_OFFER while an upload is open, and anything with no row here fail the
 * session with MESSAGE_UNEXPECTED.
 */
export const UPLOAD_LANE_TRANSITIONS = [
  {
    state: 'open',
    event: 'PUT_OFFER',
    next: 'uploading',
    action: 'forget the discarded refs; the upload receiver answers (§5.3, §5.4, §6.2)',
  },
  { state: 'uploading', event: 'PUT_DATA', next: 'uploading', action: 'to the upload receiver (§5.5)' },
  { state: 'uploading', event: 'PUT_CHUNK', next: 'uploading', action: 'to the upload receiver (§5.5)' },
  {
    state: 'uploading',
    event: 'PUT_COPY',
    next: 'uploading',
    action: 'to the upload receiver: bytes of the old file, as data (§5.15.3)',
  },
  {
    state: 'uploading',
    event: 'PUT_END',
    next: 'open',
    action: 'to the upload receiver, which finishes in the background: PUT_DONE or ERROR (§5.6)',
  },
  { state: 'uploading', event: 'CANCEL', next: 'open', action: 'close the upload, keep its partial (§5.9)' },
  {
    state: 'uploading',
    event: 'ERROR',
    next: 'open',
    action: 'close the upload, keep its partial, record the code (§5.1)',
  },
  {
    state: 'uploading',
    event: 'upload refused',
    next: 'open',
    action: 'ERROR for the ref; its messages still in flight are discarded (§5.8)',
  },
  {
    state: 'uploading',
    event: 'taken over',
    next: 'open',
    action:
      'ERROR TRANSFER_TAKEN_OVER for the ref at once; its messages still in flight are discarded (§6.2)',
  },
  {
    state: 'open',
    event: 'PUT_BATCH',
    next: 'open',
    action: 'to the batch receiver (§5.14, §6.9); never while an upload is open',
  },
  {
    state: 'open',
    event: 'BATCH_END',
    next: 'open',
    action: 'to the batch receiver, which writes the batch in the background: BATCH_DONE (§5.14)',
  },
  ...inEveryState(
    'GET_REQUEST',
    'queued: downloads are sent one at a time in arrival order while messages are still read (§5.11.4)',
  ),
  ...inEveryState(
    'GET_BATCH',
    'queued with the downloads, sent in arrival order while messages are still read (§5.20)',
  ),
  ...EVERY_STATE.map(
    (state) =>
      ({
        state,
        event: 'GET_BATCH with 2 unanswered',
        next: 'closed',
        action: 'MESSAGE_UNEXPECTED: the client did not wait for an answer (§5.20)',
      }) as const,
  ),
  ...inEveryState(
    'CANCEL of a download',
    'the download stops at its next record, or never starts; nothing more is sent for the ref (§5.9)',
  ),
  ...inEveryState('LIST_REQUEST', 'answered by the listing, in arrival order (§5.12)'),
  ...inEveryState('PUT_DIR', 'written, then ACK, in arrival order (§5.10)'),
  ...inEveryState('PUT_LINK', 'written, then ACK, in arrival order (§5.10)'),
  ...inEveryState('REMOVE_REQUEST', 'removed, then ACK, in arrival order (§5.16)'),
  ...inEveryState('SET_ATTRIBUTES', 'mode and mtime set, then ACK, in arrival order (§5.19)'),
  ...inEveryState('message of a discarded ref', 'discarded (§5.8)'),
  ...inEveryState(
    'last message of a discarded ref',
    'discarded; the ref is forgotten (PUT_END, CANCEL or ERROR)',
  ),
  ...inEveryState('CANCEL of another ref', 'ignored: that operation is already over'),
  ...inEveryState('ERROR of another ref', 'ignored (§5.1)'),
  ...EVERY_STATE.map(
    (state) =>
      ({ state, event: 'ERROR with ref 0', next: 'closed', action: 'MESSAGE_UNEXPECTED (§5.1)' }) as const,
  ),
] as const satisfies readonly Transition[];

type LaneEvent = (typeof UPLOAD_LANE_TRANSITIONS)[number]['event'];

/**
 * Which handler gets a client's message (PROTOCOL.md §6.1): `offer` (PUT_OFFER), `upload` (PUT_DATA,
 * PUT_COPY, PUT_CHUNK, PUT_END of the open upload), `end-upload` (its CANCEL or ERROR), `download` (GET_REQUEST),
 * `cancel-download` (CANCEL of a queued or running download or GET_BATCH), `listing`, `tree` (PUT_DIR, PUT_LINK, REMOVE_REQUEST,
 * SET_ATTRIBUTES),
 * `batch` (PUT_BATCH, BATCH_END), or `discard`. A word, not an object: the router has the message, and PUT_DATA must not allocate per record.
 */
export type LaneRoute =
  | 'offer'
  | 'upload'
  | 'end-upload'
  | 'download'
  | 'cancel-download'
  | 'listing'
  | 'tree'
  | 'batch'
  | 'discard';

/**
 * The session-level rules of a server session as a pure machine (PROTOCOL.md §5.1, §5.8, §5.9, §6.1,
 * §6.2): one upload receives at a time, which messages belong to it, the refs whose messages still in
 * flight are discarded after their operation failed, and which downloads a CANCEL can still stop. It
 * says which handler gets each message; the session runs the handlers and reports back how they ended.
 */
export class UploadLane {
  #state: UploadLaneState = 'open';
  #openRef: number | undefined;
  /** Refs whose operation failed here: their remaining in-flight messages are discarded (§5.1, §5.8). */
  readonly #discarded = new Set<number>();
  /** Downloads queued or being sent, which a CANCEL stops (§5.9). */
  readonly #downloads = new Set<number>();
  /** The GET_BATCHes among them (§5.20: at most MAX_BATCHES_IN_FLIGHT). */
  readonly #getBatches = new Set<number>();

  get state(): UploadLaneState {
    return this.#state;
  }

  /** The ref of the upload receiving data, if any. */
  get openRef(): number | undefined {
    return this.#openRef;
  }

  /** Downloads queued or being sent. */
  get openDownloads(): number {
    return this.#downloads.size;
  }

  /** Routes one message from the client; throws MESSAGE_UNEXPECTED for one the session must not accept. */
  route(message: Message): LaneRoute {
    if (!('ref' in message)) throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} from a client`);
    const { ref } = message;
    if (this.#discarded.has(ref)) {
      const last = message.type === 'PUT_END' || message.type === 'CANCEL' || message.type === 'ERROR';
      this.#step(last ? 'last message of a discarded ref' : 'message of a discarded ref');
      if (last) this.#discarded.delete(ref);
      return 'discard';
    }
    switch (message.type) {
      case 'PUT_OFFER':
        // §6.2: one upload at a time (the table has no PUT_OFFER in `uploading`; this names the open one).
        if (this.#openRef !== undefined)
          throw new FerryError('MESSAGE_UNEXPECTED', `PUT_OFFER while transfer ${this.#openRef} is open`);
        this.#step('PUT_OFFER');
        // §6.2: one upload at a time, in order, so a new offer means every earlier ref has sent its last
        // message; a client that stops after an ERROR without PUT_END or CANCEL must not leave refs here.
        this.#discarded.clear();
        this.#openRef = ref;
        return 'offer';
      case 'PUT_DATA':
      case 'PUT_COPY':
      case 'PUT_CHUNK':
      case 'PUT_END':
        if (ref !== this.#openRef)
          throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} for ref ${ref}, which is not open`);
        this.#step(message.type);
        return 'upload';
      case 'CANCEL':
        if (ref === this.#openRef) {
          this.#step('CANCEL');
          return 'end-upload';
        }
        if (this.#downloads.delete(ref)) {
          this.#step('CANCEL of a download');
          return 'cancel-download';
        }
        this.#step('CANCEL of another ref');
        return 'discard';
      case 'ERROR':
        if (ref === 0) this.#step('ERROR with ref 0');
        // §5.1: a client's ERROR ends only the upload it is sending, in place of its PUT_END.
        if (ref === this.#openRef) {
          this.#step('ERROR');
          return 'end-upload';
        }
        this.#step('ERROR of another ref');
        return 'discard';
      case 'GET_REQUEST':
        this.#step('GET_REQUEST');
        this.#downloads.add(ref);
        return 'download';
      case 'GET_BATCH':
        // §5.20: each GET_BATCH holds a record of paths until it is answered; two are enough to overlap.
        this.#step(
          this.#getBatches.size >= MAX_BATCHES_IN_FLIGHT ? 'GET_BATCH with 2 unanswered' : 'GET_BATCH',
        );
        this.#downloads.add(ref);
        this.#getBatches.add(ref);
        return 'download';
      case 'LIST_REQUEST':
        this.#step('LIST_REQUEST');
        return 'listing';
      case 'PUT_DIR':
      case 'PUT_LINK':
      case 'REMOVE_REQUEST':
      case 'SET_ATTRIBUTES':
        this.#step(message.type);
        return 'tree';
      case 'PUT_BATCH':
      case 'BATCH_END':
        // §6.1: a batch is never sent while an upload is open (no row in `uploading`).
        this.#step(message.type);
        return 'batch';
      default:
        throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} from a client`);
    }
  }

  /** Whether the messages of `ref` are discarded: its operation already ended here (§5.8). */
  discards(ref: number): boolean {
    return this.#discarded.has(ref);
  }

  /**
   * The operation of `ref` failed with an error that ends only it (§5.1): the session sends ERROR for the
   * ref. `closeUpload` says it was the open upload, which must be closed (its partial kept); its messages
   * still in flight are then discarded (§5.8). An upload's PUT_END already closed it: a finish that fails
   * has no messages left to discard.
   */
  operationFailed(ref: number): { closeUpload: boolean } {
    this.#downloads.delete(ref);
    this.#getBatches.delete(ref);
    if (ref !== this.#openRef) return { closeUpload: false };
    this.#step('upload refused');
    this.#discarded.add(ref);
    return { closeUpload: true };
  }

  /**
   * Another session took the upload of `ref` over (§6.2). True when it was this session's open upload:
   * the session then sends ERROR TRANSFER_TAKEN_OVER, and the ref's later messages are discarded.
   */
  takenOver(ref: number): boolean {
    if (ref !== this.#openRef) return false;
    this.#step('taken over');
    this.#discarded.add(ref);
    return true;
  }

  /** The download of `ref` ended (sent, failed or stopped): a CANCEL for it is ignored from now on. */
  downloadEnded(ref: number): void {
    this.#downloads.delete(ref);
    this.#getBatches.delete(ref);
  }

  #step(event: LaneEvent): void {
    const row = stepOf(UPLOAD_LANE_TRANSITIONS, this.#state, event);
    if (row.next === 'closed') throw new FerryError('MESSAGE_UNEXPECTED', `${event} from a client`);
    this.#state = row.next;
    if (row.next === 'open') this.#openRef = undefined;
  }
}
