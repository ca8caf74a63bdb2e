import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ERROR_CODES, FerryError, toFerryError } from '../errors/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  FILE_MODE_MASK,
  GET_BATCH_DATA_HEADER_BYTES,
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  PERMISSION_DOWNLOAD,
  getBatchEntryBytes,
  smallFileDigest,
  type GetBatchEntry,
  type GetBatchMessage,
} from '../protocol/index.js';
import { assertOpenedAt, identityOf, noFollowFlags, resolveParentSync } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';

/**
 * Files read between two turns of the event loop: each is a few synchronous system calls of microseconds
 * (the promise API cost ~0.1 ms of CPU per call, issue 14), so many at a time, and the socket still drains.
 */
const READS_PER_TURN = 32;

/** What a batched download sent: the files and their bytes, for the session's tally. */
export interface BatchDownloadSent {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Serves one GET_BATCH (PROTOCOL.md §5.20): each path is resolved under the client's root as GET_REQUEST's is
 * (§7.1: no link on the way, O_NOFOLLOW at the name), read whole and hashed, and answered in request order by
 * GET_BATCH_DATA records, each entry whole in one record. A path refused on its own (missing, not a regular
 * file, larger than a batch carries, changed while read) is answered by its code and does not fail the batch.
 * At most one record's entries are held at once: the bytes in flight per session are one record, the
 * reads are synchronous and bounded by MAX_BATCH_FILE_BYTES, and the batch's data by MAX_BATCH_DATA_BYTES.
 */
export async function sendBatchDownload(
  io: SessionIo,
  request: GetBatchMessage,
  /**
   * Called as the record answering the last path goes out: for the client the batch is answered once that
   * record arrives, and it may send another GET_BATCH at once (§5.20), maybe before this send resolves.
   */
  onAnswered: () => void = () => undefined,
): Promise<BatchDownloadSent> {
  io.require(PERMISSION_DOWNLOAD, 'download');
  const { ref } = request;
  const knownDirs = new Set<string>();
  let files = 0;
  let bytes = 0;
  let dataBytes = 0;
  let record: GetBatchEntry[] = [];
  let recordBytes = GET_BATCH_DATA_HEADER_BYTES;
  const flush = async (): Promise<void> => {
    if (record.length === 0) return;
    const entries = record;
    record = [];
    recordBytes = GET_BATCH_DATA_HEADER_BYTES;
    await io.send({ type: 'GET_BATCH_DATA', ref, entries });
  };
  for (let index = 0; index < request.paths.length; index++) {
    if (index > 0 && index % READS_PER_TURN === 0)
      await new Promise<void>((resolve) => setImmediate(resolve));
    const path = request.paths[index]!;
    let entry: GetBatchEntry;
    try {
      const room = MAX_BATCH_DATA_BYTES - dataBytes;
      const read = io.ctx.objectStore
        ? await readStoredFile(io, path, room)
        : readSmallFile(io, path, knownDirs, room);
      entry = read;
      dataBytes += read.data.length;
      files++;
      bytes += read.data.length;
      io.events.transferStarted(ref, {
        direction: 'download',
        path,
        size: read.data.length,
        heldBytes: 0,
        restarted: false,
      });
      io.events.transferFinished(ref, {
        digest: read.fileDigest,
        transferredBytes: read.data.length,
        identical: false,
      });
    } catch (err) {
      const error = toFerryError(err);
      // Only what concerns this file is answered per entry; anything else (EIO, say) fails the batch.
      if (!ENTRY_SCOPED.has(error.category)) throw error;
      entry = { status: 'refused', code: error.wireCode ?? ERROR_CODES.INTERNAL.wire };
      io.events.operationRefused(ref, error, path);
    }
    const entryBytes = getBatchEntryBytes(entry);
    if (recordBytes + entryBytes > MAX_MESSAGE_BYTES) await flush();
    record.push(entry);
    recordBytes += entryBytes;
  }
  onAnswered();
  await flush();
  return { files, bytes };
}

/**
 * Reads one object of a batch whole (issue 15), as GET_REQUEST opens one: its key from the validated path,
 * read with the store's ranged requests bound to the version first seen (SOURCE_CHANGED if it was replaced).
 */
async function readStoredFile(
  io: SessionIo,
  remotePath: string,
  roomBytes: number,
): Promise<Extract<GetBatchEntry, { status: 'file' }>> {
  const rooted = io.rooted(remotePath).join('/');
  // One HEAD per entry, answered or not: 512 paths of nothing cost the store 512 requests for a few bytes
  // of request and answer, so they are paid like a listing's (StoreHeads), before the HEAD.
  await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.open, io.stopped);
  const source = await io.ctx.objectStore!.openSource(rooted);
  try {
    const { size } = source;
    if (size > Math.min(MAX_BATCH_FILE_BYTES, roomBytes))
      throw new FerryError('FILE_TOO_LARGE', `${size} bytes is more than a batch entry carries`);
    const data = Buffer.allocUnsafe(size);
    if (size > 0) await source.readExactly(data, 0, size, 0);
    await source.assertUnchanged();
    return {
      status: 'file',
      mtimeMs: source.mtimeMs,
      mode: source.mode & FILE_MODE_MASK,
      fileDigest: smallFileDigest(data, DEFAULT_CHUNK_BYTES),
      data,
    };
  } finally {
    await source.close();
  }
}

/** Error categories answered for one entry (PROTOCOL.md §5.20), as the session answers them for one ref. */
const ENTRY_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/**
 * Reads one file of a batch whole, as GET_REQUEST opens a file (§5.11, §7.1): the path validated, the
 * directories walked without following a link, the name opened with O_NOFOLLOW and O_NONBLOCK and kept only
 * if it is a regular file. Changed while read (its identity moved, or it ended early): SOURCE_CHANGED.
 * Larger than MAX_BATCH_FILE_BYTES, or than `roomBytes`: FILE_TOO_LARGE, for the one-file path.
 */
function readSmallFile(
  io: SessionIo,
  remotePath: string,
  knownDirs: Set<string>,
  roomBytes: number,
): Extract<GetBatchEntry, { status: 'file' }> {
  const { path } = resolveParentSync(io.ctx.root, io.rooted(remotePath), knownDirs);
  let fd: number;
  try {
    fd = openSync(path, noFollowFlags('read'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // `subject` names the file on this side only; it never travels (PROTOCOL.md §5.1).
    if (code === 'ENOENT') throw new FerryError('PATH_NOT_FOUND', 'file does not exist', { subject: path });
    if (code === 'ELOOP')
      throw new FerryError('PATH_ESCAPES_ROOT', 'file is a symbolic link', { subject: path });
    throw err;
  }
  try {
    // The walk's directories are cached for the batch (knownDirs): the kernel's own path of what it opened
    // is the check that none of them was swapped for a link since.
    assertOpenedAt(fd, path);
    const before = fstatSync(fd, { bigint: true });
    if (!before.isFile()) throw new FerryError('PATH_INVALID', 'not a regular file', { subject: path });
    const size = Number(before.size);
    if (size > Math.min(MAX_BATCH_FILE_BYTES, roomBytes))
      throw new FerryError('FILE_TOO_LARGE', `${size} bytes is more than a batch entry carries`);
    const data = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const read = readSync(fd, data, offset, size - offset, offset);
      if (read === 0)
        throw new FerryError('SOURCE_CHANGED', `file ended at ${offset}, expected ${size} bytes`);
      offset += read;
    }
    // PROTOCOL.md §5.6.1: the bytes sent are the file's as it was opened, or the entry is refused.
    if (!identityOf(fstatSync(fd, { bigint: true })).equals(identityOf(before)))
      throw new FerryError('SOURCE_CHANGED', 'file changed while it was read');
    return {
      status: 'file',
      mtimeMs: Number(before.mtimeMs),
      mode: Number(before.mode) & FILE_MODE_MASK,
      // Any chunk size gives the same digest (§7.2); one at least as large as the file is one chunk.
      fileDigest: smallFileDigest(data, DEFAULT_CHUNK_BYTES),
      data,
    };
  } finally {
    closeSync(fd);
  }
}
