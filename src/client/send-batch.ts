import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { codeFromWire, FerryError, toFerryError } from '../errors/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  PUT_BATCH_HEADER_BYTES,
  batchEntryBytes,
  smallFileDigest,
  type BatchEntry,
  type BatchEntryResult,
} from '../protocol/index.js';
import { assertWalkedInode, type WalkedInode } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { aboutRemotePath } from './remote-name.js';
import type { ServerAddress } from './server-address.js';
import type { TransferReporting, TransferSubject } from './transfer-events.js';
import type { UploadResult } from './upload-file.js';

/** A file job that may travel in a batch: its size is known and small (see {@link batchable}). */
export interface SmallFileJob {
  readonly localPath: string;
  readonly remotePath: string;
  readonly size: number;
  /** Found by a walk of a local tree: the file it found there, the only one read (`readSmallFile`). */
  readonly walked?: WalkedInode | undefined;
}

/**
 * Whether a file of `size` bytes goes in a batch (PROTOCOL.md §5.14): at most MAX_BATCH_FILE_BYTES and one
 * chunk of the run's chunk size, so its digest is the one the one-file path would compute.
 */
export function batchable(size: number | undefined, chunkBytes = DEFAULT_CHUNK_BYTES): size is number {
  return size !== undefined && size <= Math.min(MAX_BATCH_FILE_BYTES, chunkBytes);
}

/** Whether `count` entries of `bytes` in all leave room for one more of `size` in the batch (§5.14). */
export function batchHasRoom(count: number, bytes: number, size: number): boolean {
  return count < MAX_BATCH_ENTRIES && bytes + size <= MAX_BATCH_DATA_BYTES;
}

/** One job's outcome: the file's result, or the error that refused or failed it alone. */
export type BatchJobOutcome = Promise<UploadResult>;

/**
 * Sends small files as one batch (PROTOCOL.md §5.14): reads each whole, computes its digest, packs the
 * entries into PUT_BATCH records (each sent once full), ends with BATCH_END, and returns at once with one promise per job
 * that settles when BATCH_DONE answers it. A file that cannot be read, or is no longer small, settles with
 * its own error (`fallback` for one to send by the one-file path instead). Events come out per file as
 * on the one-file path: started, progress, finished, or nothing (the caller reports the failure).
 */
export async function sendBatch(
  session: ClientSession,
  jobs: readonly SmallFileJob[],
  options: { chunkBytes?: number; overwrite?: boolean; server: ServerAddress },
  { emit, open: openTransfers, noteProgress }: TransferReporting,
): Promise<Array<BatchJobOutcome | 'fallback'>> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const outcomes: Array<BatchJobOutcome | 'fallback'> = [];
  const entries: Array<{ job: SmallFileJob; entry: BatchEntry; at: number }> = [];
  // The ref is opened with the first entry: a batch whose files all went another way sends nothing.
  let ref: number | undefined;
  // Each record goes out as soon as it is full (issue 14: the server stages a record's files as it arrives,
  // so reading the whole batch first kept it waiting ~20 ms per batch); an entry always fits one (§5.14).
  let record: BatchEntry[] = [];
  let recordBytes = PUT_BATCH_HEADER_BYTES;
  const flush = async (): Promise<void> => {
    await session.send({
      type: 'PUT_BATCH',
      ref: ref!,
      overwrite: options.overwrite ?? false,
      chunkBytes,
      entries: record,
    });
    record = [];
    recordBytes = PUT_BATCH_HEADER_BYTES;
  };
  for (let k = 0; k < jobs.length; k++) {
    // The reads are synchronous (see READS_PER_TURN): the event loop still turns between some of them.
    if (k > 0 && k % READS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const job = jobs[k]!;
    let entry: BatchEntry | 'fallback' | Error;
    try {
      entry = readSmallFile(job, chunkBytes);
    } catch (err) {
      entry = toFerryError(err);
    }
    if (entry === 'fallback') {
      outcomes.push('fallback');
      continue;
    }
    openTransfers.begin({ direction: 'upload', file: job.localPath, remotePath: job.remotePath });
    if (entry instanceof Error) {
      const failed = Promise.reject(entry);
      failed.catch(() => undefined);
      outcomes.push(failed);
      continue;
    }
    entries.push({ job, entry, at: outcomes.length });
    outcomes.push(Promise.resolve(undefined as never)); // replaced below
    ref ??= session.openRef();
    const bytes = batchEntryBytes(entry);
    if (record.length > 0 && recordBytes + bytes > MAX_MESSAGE_BYTES) await flush();
    record.push(entry);
    recordBytes += bytes;
  }
  if (ref === undefined) return outcomes;
  await flush();
  const batchRef = ref;
  await session.send({ type: 'BATCH_END', ref: batchRef, totalEntries: entries.length });
  const answered = session.take(batchRef).then(
    (message) => {
      session.closeRef(batchRef);
      if (message.type !== 'BATCH_DONE' || message.results.length !== entries.length)
        throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} for batch ${batchRef}`);
      return message.results;
    },
    (err: unknown) => {
      session.closeRef(batchRef);
      throw err;
    },
  );
  answered.catch(() => undefined);
  entries.forEach(({ job, entry, at }, k) => {
    const subject: TransferSubject = { direction: 'upload', file: job.localPath, remotePath: job.remotePath };
    const done = answered.then((results) => {
      const result = results[k] as BatchEntryResult;
      if (result.status === 'refused')
        throw aboutRemotePath(
          new FerryError(codeFromWire(result.code), undefined, { remote: true }),
          options.server,
          job.remotePath,
        );
      const identical = result.status === 'identical';
      noteProgress();
      emit({
        type: 'transfer-started',
        ...subject,
        size: entry.size,
        heldBytes: identical ? entry.size : 0,
        restarted: false,
      });
      if (!identical) emit({ type: 'progress', ...subject, verifiedBytes: entry.size, size: entry.size });
      openTransfers.end(subject);
      const outcome: UploadResult = {
        size: entry.size,
        digest: entry.fileDigest,
        sentBytes: identical ? 0 : entry.size,
        resumedBytes: 0,
        restarted: false,
        identical,
      };
      emit({
        type: 'transfer-finished',
        ...subject,
        size: outcome.size,
        digest: outcome.digest,
        transferredBytes: outcome.sentBytes,
        resumedBytes: 0,
        restarted: false,
        identical,
      });
      return outcome;
    });
    done.catch(() => undefined);
    outcomes[at] = done;
  });
  return outcomes;
}

/**
 * Files read between two turns of the event loop. The reads are synchronous: a small file is four system
 * calls of a few microseconds, where the promise API spent ~0.1 ms of CPU per file (issue 14); so many at a
 * time, so the event loop still turns (the socket drains meanwhile).
 */
const READS_PER_TURN = 32;

/**
 * Reads a small file whole, never through a link at its name; 'fallback' when it grew past what a batch
 * holds since the tree was walked (the one-file path then sends it).
 */
function readSmallFile(job: SmallFileJob, chunkBytes: number): BatchEntry | 'fallback' {
  // A walked name is opened as SourceFile.open opens it (O_NOFOLLOW, O_NONBLOCK for a fifo swapped in) and
  // must be the file the walk found; a name the user gave is theirs to follow, as `cp` does.
  const fd = openSync(
    job.localPath,
    fsConstants.O_RDONLY | (job.walked ? fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK : 0),
  );
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FerryError('PATH_INVALID', 'not a regular file');
    if (job.walked) assertWalkedInode(stats, job.walked, job.localPath);
    if (!batchable(stats.size, chunkBytes)) return 'fallback';
    // An entry never spans records (§5.14): a file near the limit with a long path goes the one-file way.
    if (
      PUT_BATCH_HEADER_BYTES + batchEntryBytes({ size: stats.size, path: job.remotePath }) >
      MAX_MESSAGE_BYTES
    )
      return 'fallback';
    const data = Buffer.allocUnsafe(stats.size);
    let offset = 0;
    while (offset < data.length) {
      const bytesRead = readSync(fd, data, offset, data.length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    // The file shrank while read: what was read is a consistent prefix no longer; send it the other way.
    if (offset !== data.length) return 'fallback';
    return {
      size: data.length,
      mtimeMs: Math.max(0, Math.floor(stats.mtimeMs)),
      mode: stats.mode & 0o7777,
      fileDigest: smallFileDigest(data, chunkBytes),
      path: job.remotePath,
      data,
    };
  } finally {
    closeSync(fd);
  }
}
