import { RateBudget } from './hash-budget.js';

/**
 * HEADs one listing of an object store may make (a file's mode and mtime, which S3's LIST lacks, cost one
 * each): a tenth of the protocol's MAX_LIST_ENTRIES, which a LIST_REQUEST could otherwise turn into a million
 * requests to the store. A larger tree is listed by NAMES_ONLY (`get -r`), or in parts.
 */
export const MAX_LISTING_HEADS = 100_000;
/** Store HEADs one client may cause per second on average, past its burst (a listing of that size at once). */
export const STORE_HEADS_PER_SECOND = 1000;
export const STORE_HEADS_BURST = MAX_LISTING_HEADS;
/** Store HEADs all clients together may cause per second on average, past the shared burst. */
export const STORE_HEADS_TOTAL_PER_SECOND = 2 * STORE_HEADS_PER_SECOND;
export const STORE_HEADS_TOTAL_BURST = 2 * STORE_HEADS_BURST;

export interface StoreHeadsOptions {
  /** HEADs per listing (default MAX_LISTING_HEADS). */
  maxPerListing?: number;
  perClientPerSecond?: number;
  perClientBurst?: number;
  totalPerSecond?: number;
  totalBurst?: number;
  /** The clock and the wait, injected by tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Store requests of at most one object store (HEAD, one-key LIST, DELETE) that each of these client
 * requests may make before it has sent any file data, paid before it goes: a stat is a HEAD and, for a
 * name that is no object, a LIST of one key (`ObjectTree.stat`); a removal those and a DELETE.
 */
export const STORE_REQUESTS = {
  /** GET_REQUEST, and an upload offer's look at the object it would replace: one HEAD. */
  open: 1,
  /** LIST_REQUEST's look at the path it names, before any listing page. */
  stat: 2,
  /** REMOVE_REQUEST (PROTOCOL.md §5.16): HEAD, LIST, DELETE. */
  remove: 3,
  /** SET_ATTRIBUTES (§5.19): a stat, then the HEAD of the object it copies onto itself (the copy is paid as hashing). */
  attributes: 3,
} as const;

/**
 * The requests an object store makes for client requests that send no file data back: a listing's files'
 * attributes (one HEAD each), a batched download's entries (one each, even for a path with nothing there,
 * GET_BATCH, PROTOCOL.md §5.20), and every request's own look at the object it names (`STORE_REQUESTS`: a
 * GET_REQUEST of nothing was one unpaid HEAD per request) (docs/SECURITY.md "Object store"). At most
 * `maxPerListing` HEADs per listing (FILE_TOO_LARGE past it, before the page that would pass it), and all
 * paid from a budget per client and one shared by every client (RateBudget, as hashing is), where a request
 * past either waits, never refused.
 */
export class StoreHeads {
  readonly maxPerListing: number;
  readonly budget: RateBudget;

  constructor(options: StoreHeadsOptions = {}) {
    this.maxPerListing = options.maxPerListing ?? MAX_LISTING_HEADS;
    this.budget = new RateBudget({
      perClientPerSecond: options.perClientPerSecond ?? STORE_HEADS_PER_SECOND,
      perClientBurst: options.perClientBurst ?? STORE_HEADS_BURST,
      totalPerSecond: options.totalPerSecond ?? STORE_HEADS_TOTAL_PER_SECOND,
      totalBurst: options.totalBurst ?? STORE_HEADS_TOTAL_BURST,
      now: options.now,
      sleep: options.sleep,
    });
  }

  /** Pays `count` store requests of `clientKey`'s, before they go (waits past either budget). */
  spend(clientKey: Buffer, count: number, signal?: AbortSignal): Promise<void> {
    return this.budget.spend(clientKey.toString('hex'), count, signal);
  }
}
