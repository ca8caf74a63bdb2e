import { lstatSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  GET_BATCH_HEADER_BYTES,
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  MIN_DELTA_BLOCK_BYTES,
  getBatchPathBytes,
  type GetBatchEntry,
} from '../protocol/index.js';
import { GetBatchReceiver } from '../machines/index.js';
import {
  BATCH_TEMPORARY_MAX_AGE_MS,
  CLIENT_BATCH_TEMP_PREFIX,
  placeStagedFiles,
  sweepBatchTemporaries,
  resolveUnderRoot,
  stageSmallFiles,
  type RootPath,
  type SmallFile,
  type SmallFileOutcome,
  type StagedPlacement,
} from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import type { FileJob } from './download-plan.js';
import type { TransferSubject } from './transfer-events.js';
import { downloadPartialPaths } from './download-partials.js';
import type { DownloadResult } from './download-file.js';

/** A download that may travel in a batch (see {@link batchableDownload}): its destination already resolved. */
export interface SmallGetJob {
  readonly remotePath: string;
  readonly target: RootPath;
}

/**
 * What became of one job of a batch: its result, the error that failed it alone, or `fallback`: it goes the
 * one-file path (§5.11), which answers it as it always did (a file refused by the server, grown past the
 * batch's bounds, or a name taken meanwhile).
 */
export type GetBatchOutcome = DownloadResult | FerryError | 'fallback';

/** Whether a listed size may go in a batch (PROTOCOL.md §5.20): at most MAX_BATCH_FILE_BYTES. */
function batchableSize(size: number | undefined): size is number {
  return size !== undefined && size <= MAX_BATCH_FILE_BYTES;
}

/**
 * Whether the download to `target` may go in a batch, decided as the one-file path would decide its route:
 * not when a partial of an earlier attempt lies beside it (the one-file path resumes or refuses it), and not
 * when an existing file is to be replaced by a delta (`overwrite` with `delta`, of at least `deltaMinBytes`:
 * sync's changed files receive only what changed, §5.17). An existing file without `overwrite` goes: its
 * entry is compared with it locally, as VERIFY_ONLY compares (§5.11.1), and the server learns nothing of it.
 */
function batchableDownload(
  target: RootPath,
  options: { overwrite?: boolean | undefined; delta?: boolean | undefined; deltaMinBytes: number },
): boolean {
  if (target.exists && options.overwrite && options.delta !== false) {
    const size = lstatSync(target.path, { throwIfNoEntry: false })?.size;
    if (size !== undefined && size >= options.deltaMinBytes) return false;
  }
  const { dataPath, logPath } = downloadPartialPaths(target);
  return !lstatSync(dataPath, { throwIfNoEntry: false }) && !lstatSync(logPath, { throwIfNoEntry: false });
}

/** Whether a batch of `count` paths holding `bytes` of listed data and a request of `requestBytes` has room. */
function getBatchHasRoom(
  count: number,
  bytes: number,
  requestBytes: number,
  next: { size: number; remotePath: string },
): boolean {
  return (
    count < MAX_BATCH_ENTRIES &&
    bytes + next.size <= MAX_BATCH_DATA_BYTES &&
    requestBytes + getBatchPathBytes(next.remotePath) <= MAX_MESSAGE_BYTES
  );
}

/** One download of a batch: its plan index and job, named as events name it, its destination resolved. */
export interface BatchedDownload {
  readonly index: number;
  readonly job: FileJob;
  readonly subject: TransferSubject;
  readonly target: RootPath;
  readonly remotePath: string;
}

/**
 * The downloads from `index` on that go in one batch (PROTOCOL.md §5.20): small as listed, not done yet, not
 * refused, their destination resolved here and routed to a batch by {@link batchableDownload}, within the
 * batch's bounds. Fewer than two is no batch: the first goes the one-file path (a destination that fails to
 * resolve too, which then reports its failure).
 */
export async function smallDownloadsFrom(
  files: readonly FileJob[],
  index: number,
  done: readonly unknown[],
  localDir: string,
  /** `localDir` here: the destination as the caller named it, for the events' names (download-starter.ts). */
  options: { overwrite?: boolean | undefined; delta?: boolean | undefined; localDir: string },
  knownDirs: Set<string>,
): Promise<BatchedDownload[]> {
  const group: BatchedDownload[] = [];
  let bytes = 0;
  let requestBytes = GET_BATCH_HEADER_BYTES;
  for (let i = index; i < files.length && done[i] === undefined; i++) {
    const job = files[i]!;
    if (job.refused || !batchableSize(job.size)) break;
    if (!getBatchHasRoom(group.length, bytes, requestBytes, { size: job.size, remotePath: job.remotePath }))
      break;
    let target: RootPath;
    try {
      target = await resolveUnderRoot(localDir, job.local, { createDirs: true, knownDirs });
    } catch {
      break;
    }
    if (!batchableDownload(target, { ...options, deltaMinBytes: MIN_DELTA_BLOCK_BYTES })) break;
    const subject = {
      direction: 'download',
      file: join(options.localDir, ...job.local),
      remotePath: job.remotePath,
    } as const;
    group.push({ index: i, job, subject, target, remotePath: job.remotePath });
    bytes += job.size;
    requestBytes += getBatchPathBytes(job.remotePath);
  }
  return group;
}

/**
 * Fetches small files in one batch (PROTOCOL.md §5.20): one GET_BATCH naming them, their entries read as
 * the GET_BATCH_DATA records arrive (GetBatchReceiver holds the rules), then every file verified against its
 * digest, written to a hidden temporary beside its destination, made durable with the batch's other files,
 * given its mode and mtime, and placed atomically (link(2), never replacing, or rename(2) with `overwrite`),
 * each destination directory made durable once: the upload receiver's own placing (stageSmallFiles,
 * placeStagedFiles). An existing destination without `overwrite` is compared instead, never written.
 * Resolves once every file is placed, one outcome per job.
 */
export async function getBatch(
  session: ClientSession,
  jobs: readonly SmallGetJob[],
  options: {
    overwrite?: boolean | undefined;
    /** How old a batch temporary must be to be swept (BATCH_TEMPORARY_MAX_AGE_MS); tests shorten it. */
    temporaryMaxAgeMs?: number | undefined;
  },
): Promise<GetBatchOutcome[]> {
  const outcomes: GetBatchOutcome[] = jobs.map(() => 'fallback');
  const overwrite = options.overwrite ?? false;
  const files = new Map<number, SmallFile>();
  const staged = new Map<number, string>();
  // Each record's files are staged as it arrives, while the rest of the answer travels (as the upload
  // receiver stages a PUT_BATCH record's, §5.14); nothing is placed before the whole batch is answered.
  const staging: Array<Promise<void>> = [];
  // The temporaries a client killed mid-batch left in a directory this batch writes into are swept first,
  // once per session: every batch of the session staging there waits for that sweep, so it never meets
  // temporaries of this client's own batches, whatever their age.
  const swept = sweptDirsOf(session);
  const sweep = (dir: string): Promise<unknown> => {
    let done = swept.get(dir);
    if (!done) {
      const maxAgeMs = options.temporaryMaxAgeMs ?? BATCH_TEMPORARY_MAX_AGE_MS;
      const now = Date.now();
      done = sweepBatchTemporaries(dir, {
        prefix: CLIENT_BATCH_TEMP_PREFIX,
        maxAgeMs,
        now,
        real: true,
      }).catch(() => 0);
      swept.set(dir, done);
    }
    return done;
  };
  const stage = (first: number, entries: readonly GetBatchEntry[]): void => {
    const byDir = new Map<string, Array<{ index: number; file: SmallFile }>>();
    entries.forEach((entry, k) => {
      // Refused by the server: the one-file path asks again and reports exactly what it says (§5.20).
      if (entry.status !== 'file') return;
      const index = first + k;
      const { target } = jobs[index]!;
      const file: SmallFile = {
        data: entry.data,
        fileDigest: entry.fileDigest,
        chunkBytes: DEFAULT_CHUNK_BYTES,
        mode: entry.mode,
        mtimeMs: entry.mtimeMs,
        dir: target.dir,
        path: target.path,
        overwrite,
        compareExisting: target.exists && !overwrite,
      };
      files.set(index, file);
      byDir.set(file.dir, [...(byDir.get(file.dir) ?? []), { index, file }]);
    });
    // Temporaries beside their destinations, so each is placed on its own file system; the directories'
    // files are staged side by side, so their fsyncs overlap as one batch's do (§5.14).
    for (const [dir, items] of byDir) {
      const done = sweep(dir)
        .then(() =>
          stageSmallFiles(
            dir,
            items.map(({ file }) => file),
            { tempPrefix: CLIENT_BATCH_TEMP_PREFIX },
          ),
        )
        .then((results) =>
          results.forEach((result, k) => {
            const { index, file } = items[k]!;
            if (result.status === 'staged') staged.set(index, result.temp);
            else outcomes[index] = outcomeOf(result, file);
          }),
        );
      staging.push(done);
    }
  };
  const ref = session.openRef();
  try {
    await session.send({ type: 'GET_BATCH', ref, paths: jobs.map((job) => job.remotePath) });
    const receiver = new GetBatchReceiver(jobs.length);
    while (receiver.state === 'receiving') {
      let message;
      try {
        message = await session.take(ref);
      } catch (err) {
        // An ERROR for this ref ends the batch alone; the paths not answered go the one-file path. A failed
        // session fails them all.
        if (session.failed || !toFerryError(err).remote) throw err;
        receiver.refused();
        break;
      }
      const { first, entries } = receiver.receive(message);
      stage(first, entries);
    }
  } catch (err) {
    // Nothing of a batch that failed is placed: its temporaries go (stageSmallFiles removed its own failures).
    await Promise.allSettled(staging);
    for (const temp of staged.values()) await rm(temp, { force: true });
    throw err;
  } finally {
    session.closeRef(ref);
  }
  await Promise.all(staging);
  // Placed in batch order, every staged file at once; a file is done once its directory is durable.
  const order = [...staged.keys()].sort((a, b) => a - b);
  const placements: StagedPlacement[] = order.map((index) => {
    const file = files.get(index)!;
    return { temp: staged.get(index)!, dir: file.dir, path: file.path, overwrite: file.overwrite };
  });
  const placed = await placeStagedFiles(placements);
  placed.forEach((result, k) => (outcomes[order[k]!] = outcomeOf(result, files.get(order[k]!)!)));
  return outcomes;
}

/**
 * The directories a session's batches have swept (sweepBatchTemporaries): each is read once per connection,
 * not once per batch; forgotten with the session.
 */
const sweptDirs = new WeakMap<ClientSession, Map<string, Promise<unknown>>>();

function sweptDirsOf(session: ClientSession): Map<string, Promise<unknown>> {
  let dirs = sweptDirs.get(session);
  if (!dirs) sweptDirs.set(session, (dirs = new Map<string, Promise<unknown>>()));
  return dirs;
}

/** One file's outcome from what placing said of it. */
function outcomeOf(result: SmallFileOutcome, file: SmallFile): GetBatchOutcome {
  const size = file.data.length;
  const digest = Buffer.from(file.fileDigest);
  switch (result.status) {
    case 'placed':
      return { size, digest, receivedBytes: size, resumedBytes: 0, reusedBytes: 0, identical: false };
    case 'identical':
      return { size, digest, receivedBytes: 0, resumedBytes: 0, reusedBytes: 0, identical: true };
    case 'taken':
      // A file appeared under the name meanwhile: the one-file path decides about it as about any.
      return 'fallback';
    case 'refused':
      return result.code === 'FILE_EXISTS'
        ? new FerryError('FILE_EXISTS', 'a different file is in the way')
        : (result.error ?? new FerryError(result.code));
  }
}
