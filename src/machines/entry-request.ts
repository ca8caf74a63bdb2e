import type {
  Message,
  PutDirMessage,
  PutLinkMessage,
  RemoveRequestMessage,
  SetAttributesMessage,
} from '../protocol/index.js';
import { stepOf, type Transition } from './transition.js';

/**
 * A directory entry of a tree upload, or a removal, as the client sends it (PROTOCOL.md §6.6, §5.10, §5.16):
 * one request, one ACK.
 * The client steps through this table, so another message for the entry's ref is MESSAGE_UNEXPECTED
 * `"<type> in state <state>"`. An ERROR for the ref refuses the entry in any state (§5.1); the session hands
 * it over as the entry's error, and the other entries go on.
 */
export const ENTRY_TRANSITIONS = [
  {
    state: 'idle',
    event: 'PUT_DIR',
    next: 'requested',
    action:
      'PUT_DIR sent: the directory made if missing, given its mode (at most 0o755, always 0o700) and mtime',
  },
  {
    state: 'idle',
    event: 'PUT_LINK',
    next: 'requested',
    action: 'PUT_LINK sent: the link made, or replaced with OVERWRITE, if its target stays inside the root',
  },
  {
    state: 'idle',
    event: 'REMOVE_REQUEST',
    next: 'requested',
    action: 'REMOVE_REQUEST sent: the file, link or empty directory removed, no link followed (§5.16)',
  },
  {
    state: 'idle',
    event: 'SET_ATTRIBUTES',
    next: 'requested',
    action: 'SET_ATTRIBUTES sent: the existing file given its mode and mtime, no link followed (§5.19)',
  },
  {
    state: 'requested',
    event: 'ACK',
    next: 'done',
    action: 'the entry is on the server as asked (an existing link with the same target included)',
  },
] as const satisfies readonly Transition[];

/** Where an entry is (a state of {@link ENTRY_TRANSITIONS}). */
export type EntryState = (typeof ENTRY_TRANSITIONS)[number]['state' | 'next'];

/** One PUT_DIR, PUT_LINK, REMOVE_REQUEST or SET_ATTRIBUTES and its answer, sans-IO. */
export class EntryRequest {
  #state: EntryState = 'idle';

  get state(): EntryState {
    return this.#state;
  }

  /** The request to send (returned as given, once the table allows it). */
  request<M extends PutDirMessage | PutLinkMessage | RemoveRequestMessage | SetAttributesMessage>(
    message: M,
  ): M {
    this.#state = stepOf(ENTRY_TRANSITIONS, this.#state, message.type).next;
    return message;
  }

  /** Takes the next message for the entry's ref: ACK completes it; anything else throws MESSAGE_UNEXPECTED. */
  receive(message: Message): void {
    this.#state = stepOf(ENTRY_TRANSITIONS, this.#state, message.type).next;
  }
}
