import { isUtf8 } from 'node:buffer';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { FerryError } from '../errors/index.js';
import {
  FILE_MODE_MASK,
  LIST_ENTRIES_HEADER_BYTES,
  MAX_LIST_ENTRIES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type ListEntry,
  type ListRequestMessage,
} from '../protocol/index.js';
import { ListingTally } from '../machines/index.js';
import { resolveExisting, WalkFs } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { sendObjectListing } from './object-listing.js';
import { listablePath } from './listable-path.js';

/**
 * Serves one LIST_REQUEST (PROTOCOL.md §5.12): walks the requested directory without following links,
 * depth first, and streams entries packed into as few LIST_ENTRIES messages as fit.
 */
export async function sendListing(io: SessionIo, request: ListRequestMessage): Promise<number> {
  // PROTOCOL.md §5.12: SELF_ONLY tells a file from a directory, which an uploading client needs to place a
  // file the way scp would (`send a HOST/b`); it reveals no more than an upload's FILE_EXISTS already does.
  if (request.selfOnly) io.require(PERMISSION_UPLOAD | PERMISSION_DOWNLOAD, 'listing');
  else io.require(PERMISSION_DOWNLOAD, 'listing');
  if (io.objectStore) return sendObjectListing(io, io.objectStore, request);
  const components = io.rooted(request.path, { allowEmpty: true });
  const base = await resolveExisting(io.ctx.root, components);
  if (request.selfOnly) {
    // A client that may not download learns the kind alone: mode and mtime are 0 (PROTOCOL.md §5.12), as an
    // upload-only client learns no more about an existing file than that it exists (SECURITY.md).
    const mayRead = (io.grant.permissions & PERMISSION_DOWNLOAD) !== 0;
    await io.send({
      type: 'LIST_END',
      ref: request.ref,
      totalEntries: 0,
      isFile: !base.stats.isDirectory(),
      mode: mayRead ? base.stats.mode & FILE_MODE_MASK : 0,
      mtimeMs: mayRead ? Math.max(0, Math.trunc(base.stats.mtimeMs)) : 0,
    });
    return 0;
  }
  let batch: ListEntry[] = [];
  let batchBytes = LIST_ENTRIES_HEADER_BYTES;
  // The limits a client enforces on what it receives, applied to what is sent: a listing too large to be
  // received is refused here, as FILE_TOO_LARGE (PROTOCOL.md §10).
  const tally = new ListingTally('FILE_TOO_LARGE');
  const emit = async (entry: ListEntry): Promise<void> => {
    const size = tally.add(entry);
    if (batchBytes + size > MAX_MESSAGE_BYTES) await flush();
    batch.push(entry);
    batchBytes += size;
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await io.send({ type: 'LIST_ENTRIES', ref: request.ref, entries: batch });
    batch = [];
    batchBytes = LIST_ENTRIES_HEADER_BYTES;
  };

  if (base.stats.isDirectory()) {
    // `.ferry` first in a remote path is reserved (PROTOCOL.md §7.1, §5.12), so it is never listed at the top
    // of the client's root: there it is the server's own state, or, for a confined client, a name that no
    // remote path could reach. Deeper down it is an ordinary name.
    const hideReserved = request.path === '';
    await walk(new WalkFs(), base.path, '', request.recursive, hideReserved, emit);
  } else {
    await emit(await entryOf(base.path, components[components.length - 1] ?? '', base.stats));
  }
  await flush();
  await io.send({
    type: 'LIST_END',
    ref: request.ref,
    totalEntries: tally.entries,
    isFile: !base.stats.isDirectory(),
    mode: base.stats.mode & FILE_MODE_MASK,
    mtimeMs: Math.max(0, Math.trunc(base.stats.mtimeMs)),
  });
  return tally.entries;
}

async function walk(
  fs: WalkFs,
  dir: string,
  prefix: string,
  recursive: boolean,
  hideReserved: boolean,
  emit: (entry: ListEntry) => Promise<void>,
): Promise<void> {
  const names: string[] = [];
  // Names are sorted before they are sent, so a directory is read whole first: stop at the listing cap
  // (PROTOCOL.md §10) rather than hold the names of a directory of any size in memory.
  for await (const { name, utf8 } of fs.names(dir)) {
    if (names.length >= MAX_LIST_ENTRIES)
      throw new FerryError('FILE_TOO_LARGE', `a directory has more than ${MAX_LIST_ENTRIES} entries`);
    // Not UTF-8: no remote path can name it (§7.1), and its string is another file's name (its twin listed
    // twice) or none (directory-names.ts). Not held, so not counted: the bound is on memory.
    if (utf8) names.push(name);
  }
  names.sort();
  for (const name of names) {
    const path = prefix === '' ? name : `${prefix}/${name}`;
    // Names that cannot travel as a remote path component (PROTOCOL.md §7.1), and `.ferry` at the top of the
    // client's root, are left out.
    if (!listablePath(path, hideReserved)) continue;
    const full = join(dir, name);
    let stats: Stats;
    try {
      stats = await fs.lstat(full);
    } catch {
      continue; // removed while listing
    }
    if (!stats.isFile() && !stats.isDirectory() && !stats.isSymbolicLink()) continue;
    await emit(await entryOf(full, path, stats));
    if (recursive && stats.isDirectory()) await walk(fs, full, path, true, false, emit);
  }
}

async function entryOf(full: string, path: string, stats: Stats): Promise<ListEntry> {
  const kind = stats.isSymbolicLink() ? 'link' : stats.isDirectory() ? 'dir' : 'file';
  let linkTarget = '';
  if (kind === 'link') {
    const bytes = await readlink(full, { encoding: 'buffer' });
    linkTarget = bytes.toString('utf8');
    // Not UTF-8: its string is another target (directory-names.ts), which the client would make.
    if (linkTarget === '' || linkTarget.includes('\0') || bytes.length > MAX_PATH_BYTES || !isUtf8(bytes))
      linkTarget = '?';
  }
  return {
    kind,
    mode: stats.mode & FILE_MODE_MASK,
    size: kind === 'file' ? stats.size : 0,
    mtimeMs: Math.max(0, Math.trunc(stats.mtimeMs)),
    path,
    linkTarget,
  };
}
