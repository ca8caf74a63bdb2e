import { FerryError, type ErrorCode } from '../errors/index.js';
import {
  MAX_LIST_BYTES,
  MAX_LIST_ENTRIES,
  listEntryBytes,
  type ListEntry,
  type ListRequestMessage,
  type Message,
} from '../protocol/index.js';
import { stepOf, type Transition } from './transition.js';

/**
 * A listing as the client receives it (PROTOCOL.md §6.5, §5.12): the client steps through this table, so a
 * message out of order for the listing's ref is MESSAGE_UNEXPECTED `"<type> in state <state>"`. An ERROR for
 * the ref ends the listing in any state (§5.1); the session hands it over as the operation's error.
 */
export const LISTING_TRANSITIONS = [
  {
    state: 'idle',
    event: 'LIST_REQUEST',
    next: 'requested',
    action: 'LIST_REQUEST sent, RECURSIVE or not',
  },
  {
    state: 'idle',
    event: 'LIST_REQUEST SELF_ONLY',
    next: 'self-requested',
    action: 'LIST_REQUEST sent asking about the path itself: no entries may follow',
  },
  {
    state: 'requested',
    event: 'LIST_ENTRIES',
    next: 'listing',
    action: `entries counted: beyond ${MAX_LIST_ENTRIES} entries or ${MAX_LIST_BYTES} bytes, MESSAGE_MALFORMED (§10)`,
  },
  {
    state: 'requested',
    event: 'LIST_END',
    next: 'ended',
    action: 'an empty listing: totalEntries must be 0, else MESSAGE_MALFORMED',
  },
  {
    state: 'listing',
    event: 'LIST_ENTRIES',
    next: 'listing',
    action: 'entries counted, as above',
  },
  {
    state: 'listing',
    event: 'LIST_END',
    next: 'ended',
    action: 'totalEntries must be the count of entries received, else MESSAGE_MALFORMED',
  },
  {
    state: 'self-requested',
    event: 'LIST_END',
    next: 'ended',
    action: 'the kind, mode and mtime of the path; totalEntries must be 0, else MESSAGE_MALFORMED',
  },
] as const satisfies readonly Transition[];

/** Where a listing is (a state of {@link LISTING_TRANSITIONS}). */
export type ListingState = (typeof LISTING_TRANSITIONS)[number]['state' | 'next'];

/** A complete listing of a remote path (PROTOCOL.md §5.12). */
export interface RemoteListing {
  /** The entries as the server sent them: validate each path before using it (`parseRemotePath`, §7.1). */
  entries: ListEntry[];
  /** The listed path is a file (its one entry is the file itself). */
  isFile: boolean;
  /** Permission bits and mtime of the listed path itself (for `''`, the client's root). */
  mode: number;
  mtimeMs: number;
}

/**
 * The size of a listing as it streams, against the limits both sides apply (PROTOCOL.md §5.12, §10): at most
 * MAX_LIST_ENTRIES entries whose encoded size adds up to at most MAX_LIST_BYTES. Who breaks a limit decides
 * the code: a server whose own listing is too large refuses it (FILE_TOO_LARGE); a server that sends more
 * than the limits broke the protocol (MESSAGE_MALFORMED at the client).
 */
export class ListingTally {
  readonly #code: ErrorCode;
  #entries = 0;
  #bytes = 0;

  constructor(code: 'FILE_TOO_LARGE' | 'MESSAGE_MALFORMED') {
    this.#code = code;
  }

  /** Entries counted so far. */
  get entries(): number {
    return this.#entries;
  }

  /** Counts `entry` and returns its encoded size; throws the tally's code when it crosses a limit. */
  add(entry: ListEntry): number {
    if (this.#entries === MAX_LIST_ENTRIES)
      throw new FerryError(this.#code, `listing exceeds ${MAX_LIST_ENTRIES} entries`);
    const size = listEntryBytes(entry);
    if (this.#bytes + size > MAX_LIST_BYTES)
      throw new FerryError(this.#code, `listing exceeds ${MAX_LIST_BYTES} bytes of entries`);
    this.#entries++;
    this.#bytes += size;
    return size;
  }
}

/**
 * One listing on the client (PROTOCOL.md §5.12), sans-IO: `request` gives the LIST_REQUEST to send, `receive`
 * takes each message for its ref and returns the listing once LIST_END completed it. A message that breaks
 * the rules throws MESSAGE_UNEXPECTED or MESSAGE_MALFORMED before anything beyond a limit is kept; the
 * caller then closes the session (§5).
 */
export class ListingReceiver {
  #state: ListingState = 'idle';
  readonly #tally = new ListingTally('MESSAGE_MALFORMED');
  readonly #entries: ListEntry[] = [];

  get state(): ListingState {
    return this.#state;
  }

  /** The LIST_REQUEST for `path` under `ref`; `namesOnly` when files' modes and mtimes are not needed. */
  request(
    ref: number,
    path: string,
    options: { recursive: boolean; selfOnly?: boolean; namesOnly?: boolean },
  ): ListRequestMessage {
    const selfOnly = options.selfOnly ?? false;
    this.#state = stepOf(
      LISTING_TRANSITIONS,
      this.#state,
      selfOnly ? 'LIST_REQUEST SELF_ONLY' : 'LIST_REQUEST',
    ).next;
    return {
      type: 'LIST_REQUEST',
      ref,
      recursive: options.recursive,
      selfOnly,
      ...(options.namesOnly === true ? { namesOnly: true } : {}),
      path,
    };
  }

  /** Takes the next message of the listing; the complete listing after LIST_END, else undefined. */
  receive(message: Message): RemoteListing | undefined {
    const row = stepOf(LISTING_TRANSITIONS, this.#state, message.type);
    if (message.type === 'LIST_ENTRIES') {
      for (const entry of message.entries) {
        this.#tally.add(entry);
        this.#entries.push(entry);
      }
    } else if (message.type === 'LIST_END') {
      if (message.totalEntries !== this.#tally.entries)
        throw new FerryError(
          'MESSAGE_MALFORMED',
          `list_end counts ${message.totalEntries} entries, ${this.#tally.entries} were sent`,
        );
    }
    this.#state = row.next;
    if (message.type !== 'LIST_END') return undefined;
    return { entries: this.#entries, isFile: message.isFile, mode: message.mode, mtimeMs: message.mtimeMs };
  }
}
