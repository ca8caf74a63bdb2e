import { close, fstat, open, read, type BigIntStats } from 'node:fs';
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
import { assertOpenedAt, identityOf, noFollowFlags, resolveParent } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';

/**
 * Files of a batch read at once, ahead of the one being answered: its reads are the libuv pool's, off the
 * event loop (a synchronous read of a file not in the page cache stalled every other session for as long as
 * the disk took), and a few in flight keep the pool busy while the loop sends. At most this many files of
 * MAX_BATCH_FILE_BYTES each are held ahead of the answer record.
 */
const READ_AHEAD = 4;

/** One file of a batch, read. */
type FileEntry = Extract<GetBatchEntry, { status: 'file' }>;

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
 * At most one record's entries are held at once and READ_AHEAD files read ahead of it (each bounded by
 * MAX_BATCH_FILE_BYTES); the reads are asynchronous and answered in request order, and the batch's data is
 * bounded by MAX_BATCH_DATA_BYTES.
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
  // A store's reads stay one at a time: each is paid (StoreHeads) and sized against the room left exactly.
  const window = io.objectStore ? 1 : READ_AHEAD;
  const ahead: Promise<FileEntry>[] = [];
  let started = 0;
  for (let index = 0; index < request.paths.length; index++) {
    while (started < request.paths.length && ahead.length < window) {
      const path = request.paths[started++]!;
      const reading = io.objectStore
        ? readStoredFile(io, path, MAX_BATCH_DATA_BYTES - dataBytes)
        : readSmallFile(io, path, knownDirs);
      // Awaited in order below; one left behind by a batch that failed must not be an unhandled rejection.
      reading.catch(() => undefined);
      ahead.push(reading);
    }
    const path = request.paths[index]!;
    let entry: GetBatchEntry;
    try {
      const read = await ahead.shift()!;
      // The room left is known only in order: a file read ahead that does not fit is refused here.
      if (read.data.length > MAX_BATCH_DATA_BYTES - dataBytes)
        throw new FerryError(
          'FILE_TOO_LARGE',
          `${read.data.length} bytes is more than a batch entry carries`,
        );
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
async function readStoredFile(io: SessionIo, remotePath: string, roomBytes: number): Promise<FileEntry> {
  const rooted = io.rooted(remotePath).join('/');
  // One HEAD per entry, answered or not: 512 paths of nothing cost the store 512 requests for a few bytes
  // of request and answer, so they are paid like a listing's (StoreHeads), before the HEAD.
  await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.open, io.stopped);
  const source = await io.objectStore!.openSource(rooted);
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
 * Larger than MAX_BATCH_FILE_BYTES: FILE_TOO_LARGE, for the one-file path. Every call is the libuv pool's
 * (fs callbacks: the promise API cost ~0.1 ms of CPU per call, issue 14), none blocks the event loop.
 */
async function readSmallFile(io: SessionIo, remotePath: string, knownDirs: Set<string>): Promise<FileEntry> {
  const { path } = await resolveParent(io.ctx.root, io.rooted(remotePath), knownDirs);
  let fd: number;
  try {
    fd = await callback<number>((done) => open(path, noFollowFlags('read'), done));
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
    // is the check that none of them was swapped for a link since (a readlink of /proc: no disk).
    assertOpenedAt(fd, path);
    const before = await statOf(fd);
    if (!before.isFile()) throw new FerryError('PATH_INVALID', 'not a regular file', { subject: path });
    const size = Number(before.size);
    if (size > MAX_BATCH_FILE_BYTES)
      throw new FerryError('FILE_TOO_LARGE', `${size} bytes is more than a batch entry carries`);
    const data = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const at = offset;
      const got = await callback<number>((done) => read(fd, data, at, size - at, at, done));
      if (got === 0)
        throw new FerryError('SOURCE_CHANGED', `file ended at ${offset}, expected ${size} bytes`);
      offset += got;
    }
    // PROTOCOL.md §5.6.1: the bytes sent are the file's as it was opened, or the entry is refused.
    if (!identityOf(await statOf(fd)).equals(identityOf(before)))
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
    await callback<void>((done) => close(fd, done));
  }
}

function statOf(fd: number): Promise<BigIntStats> {
  return callback<BigIntStats>((done) => fstat(fd, { bigint: true }, done));
}

/** One node:fs callback call as a promise (its first value). */
function callback<T>(
  call: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));
}
