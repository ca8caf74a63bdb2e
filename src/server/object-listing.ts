import { FerryError } from '../errors/index.js';
import {
  LIST_ENTRIES_HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  PERMISSION_DOWNLOAD,
  type ListEntry,
  type ListRequestMessage,
} from '../protocol/index.js';
import { ListingTally } from '../machines/index.js';
import type { ServerObjectStore } from './server-object-store.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';
import { listablePath } from './listable-path.js';
import { heldListing } from './listing-memory.js';
import type { ObjectFileEntry } from './server-object-store.js';

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
  // The stat is paid first, as the listing's HEADs are (STORE_REQUESTS): a LIST_REQUEST of nothing was free.
  await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.stat, io.stopped);
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
  // Collected whole before it is sorted and sent: bounded by bytes while it is (listing-memory.ts).
  const held = heldListing(io.ctx.listingMemory, io.clientKey);
  try {
    const entries =
      base.kind === 'dir'
        ? // NAMES_ONLY (PROTOCOL.md §5.12): the client needs no file's mode or mtime, so no HEAD per file.
          await store.listFiles(relative, request.recursive, {
            attributes: request.namesOnly !== true,
            maxHeads: io.ctx.storeHeads.maxPerListing,
            beforeHeads: (count) => io.ctx.storeHeads.spend(io.clientKey, count, io.stopped),
            // Keys another tool wrote that no remote path can name, and `.ferry` at the top of the client's
            // root, left out as on a disk (listablePath).
            leaveOut: (path) => !listablePath(path, request.path === ''),
            onEntry: (entry) => held.hold(listEntryOf(entry)),
          })
        : [{ ...base, path: components[components.length - 1] ?? '' }];
    for (const entry of entries) {
      const listed = listEntryOf(entry);
      // The tally refuses names and sizes a client would refuse (PROTOCOL.md §10), as FILE_TOO_LARGE.
      const size = tally.add(listed);
      if (batchBytes + size > MAX_MESSAGE_BYTES) await flush();
      batch.push(listed);
      batchBytes += size;
    }
    await flush();
  } finally {
    held.release();
  }
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

/** An object-store entry as LIST_ENTRIES carries it. */
function listEntryOf(entry: ObjectFileEntry): ListEntry {
  return {
    kind: entry.kind,
    mode: entry.mode,
    size: entry.kind === 'file' ? entry.size : 0,
    mtimeMs: Math.max(0, Math.trunc(entry.mtimeMs)),
    path: entry.path,
    linkTarget: '',
  };
}
