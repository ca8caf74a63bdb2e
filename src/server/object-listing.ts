import { FerryError } from '../errors/index.js';
import {
  LIST_ENTRIES_HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  PERMISSION_DOWNLOAD,
  type ListEntry,
  type ListRequestMessage,
} from '../protocol/index.js';
import { ListingTally } from '../machines/index.js';
import { RateBudget } from './hash-budget.js';
import type { ServerObjectStore } from './server-object-store.js';
import type { SessionIo } from './session-io.js';

/**
 * HEADs one listing of an object store may make (a file's mode and mtime, which S3's LIST lacks, cost one
 * each): a tenth of the protocol's MAX_LIST_ENTRIES, which a LIST_REQUEST could otherwise turn into a million
 * requests to the store. A larger tree is listed by NAMES_ONLY (`get -r`), or in parts.
 */
export const MAX_LISTING_HEADS = 100_000;
/** Listing HEADs one client may make per second on average, past its burst (a listing of that size at once). */
export const LISTING_HEADS_PER_SECOND = 1000;
export const LISTING_HEADS_BURST = MAX_LISTING_HEADS;
/** Listing HEADs all clients together may make per second on average, past the shared burst. */
export const LISTING_HEADS_TOTAL_PER_SECOND = 2 * LISTING_HEADS_PER_SECOND;
export const LISTING_HEADS_TOTAL_BURST = 2 * LISTING_HEADS_BURST;

export interface ListingHeadsOptions {
  /** HEADs per listing (default MAX_LISTING_HEADS). */
  maxPerRequest?: number;
  perClientPerSecond?: number;
  perClientBurst?: number;
  totalPerSecond?: number;
  totalBurst?: number;
  /** The clock and the wait, injected by tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The HEADs object-store listings make (docs/SECURITY.md "Object-store listings"): at most `maxPerRequest`
 * per listing (FILE_TOO_LARGE past it, before the page that would pass it), and paid from a budget per client
 * and one shared by every client (RateBudget, as hashing is), where a listing past either waits, never
 * refused.
 */
export class ListingHeads {
  readonly maxPerRequest: number;
  readonly budget: RateBudget;

  constructor(options: ListingHeadsOptions = {}) {
    this.maxPerRequest = options.maxPerRequest ?? MAX_LISTING_HEADS;
    this.budget = new RateBudget({
      perClientPerSecond: options.perClientPerSecond ?? LISTING_HEADS_PER_SECOND,
      perClientBurst: options.perClientBurst ?? LISTING_HEADS_BURST,
      totalPerSecond: options.totalPerSecond ?? LISTING_HEADS_TOTAL_PER_SECOND,
      totalBurst: options.totalBurst ?? LISTING_HEADS_TOTAL_BURST,
      now: options.now,
      sleep: options.sleep,
    });
  }
}

/**
 * Serves one LIST_REQUEST (PROTOCOL.md §5.12) from an object store (issue 15), as `sendListing` does from
 * the root: the same permissions, the same limits while it streams, entries packed into as few
 * LIST_ENTRIES messages as fit. Directories are the prefixes of keys; there are no links.
 */
export async function sendObjectListing(
  io: SessionIo,
  store: ServerObjectStore,
  request: ListRequestMessage,
): Promise<number> {
  const components = io.rooted(request.path, { allowEmpty: true });
  const relative = components.join('/');
  const base = await store.statFile(relative);
  if (!base) throw new FerryError('PATH_NOT_FOUND');
  if (request.selfOnly) {
    // As sendListing: a client that may not download learns the kind alone (PROTOCOL.md §5.12).
    const mayRead = (io.grant.permissions & PERMISSION_DOWNLOAD) !== 0;
    await io.send({
      type: 'LIST_END',
      ref: request.ref,
      totalEntries: 0,
      isFile: base.kind === 'file',
      mode: mayRead ? base.mode : 0,
      mtimeMs: mayRead ? Math.max(0, Math.trunc(base.mtimeMs)) : 0,
    });
    return 0;
  }
  let batch: ListEntry[] = [];
  let batchBytes = LIST_ENTRIES_HEADER_BYTES;
  const tally = new ListingTally('FILE_TOO_LARGE');
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await io.send({ type: 'LIST_ENTRIES', ref: request.ref, entries: batch });
    batch = [];
    batchBytes = LIST_ENTRIES_HEADER_BYTES;
  };
  const entries =
    base.kind === 'dir'
      ? // NAMES_ONLY (PROTOCOL.md §5.12): the client needs no file's mode or mtime, so no HEAD per file.
        await store.listFiles(relative, request.recursive, {
          attributes: request.namesOnly !== true,
          maxHeads: io.ctx.listingHeads.maxPerRequest,
          beforeHeads: (count) => io.ctx.listingHeads.budget.spend(io.clientKey.toString('hex'), count),
        })
      : [{ ...base, path: components[components.length - 1] ?? '' }];
  for (const entry of entries) {
    const listed: ListEntry = {
      kind: entry.kind,
      mode: entry.mode,
      size: entry.kind === 'file' ? entry.size : 0,
      mtimeMs: Math.max(0, Math.trunc(entry.mtimeMs)),
      path: entry.path,
      linkTarget: '',
    };
    // The tally refuses names and sizes a client would refuse (PROTOCOL.md §10), as FILE_TOO_LARGE.
    const size = tally.add(listed);
    if (batchBytes + size > MAX_MESSAGE_BYTES) await flush();
    batch.push(listed);
    batchBytes += size;
  }
  await flush();
  await io.send({
    type: 'LIST_END',
    ref: request.ref,
    totalEntries: tally.entries,
    isFile: base.kind === 'file',
    mode: base.mode,
    mtimeMs: Math.max(0, Math.trunc(base.mtimeMs)),
  });
  return tally.entries;
}
