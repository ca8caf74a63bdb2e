import { lstat, mkdir, realpath, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { MAX_BATCHES_IN_FLIGHT } from '../machines/index.js';
import {
  resolveUnderRoot,
  DEFAULT_THREADS,
  KnownLeafHashes,
  SealPool,
  type BeforeTreeWrite,
} from '../transfer/index.js';
import { HomeInDestination } from './home-in-destination.js';
import { assertDestinationWritable } from './destination-writable.js';
import type { ClientSession } from './client-session.js';
import { beginDownload, type DownloadResult } from './download-file.js';
import { InFlightWindow } from './in-flight-window.js';
import { getBatch, smallDownloadsFrom, type BatchedDownload } from './get-batch.js';
import { planDownloads } from './get-plan.js';
import { aboutRemotePath, remoteName } from './remote-name.js';
import { onThisMachine } from './on-this-machine.js';
import { finishTree } from './finish-tree.js';
import { failsOnlyThisJob, jobsFailedError } from './job-failure.js';
import { DEFAULT_STREAMS, ExtraStreams } from './extra-sessions.js';
import { withRetries, type ConnectOptions } from './send-files.js';
import {
  OpenTransfers,
  type TransferEvent,
  type TransferReporting,
  type TransferSubject,
} from './transfer-events.js';

/** What happens during `getFiles`: the one client event stream (see {@link TransferEvent}). */
export type GetEvent = TransferEvent;

export interface GetFilesOptions extends ConnectOptions {
  /** Remote files, or with `recursive` files or directories ('/'-separated, '' for the client's root). */
  remotePaths: readonly string[];
  /** Local directory everything lands in. */
  localDir: string;
  /**
   * With one source: the name it is stored under in `localDir` instead of its remote base name (as
   * `scp HOST:f LOCAL` does when LOCAL is not a directory); with `recursive`, the name of the top directory.
   */
  localName?: string;
  /**
   * Create `localDir` and its missing parents (default true). False refuses a missing one with
   * PATH_NOT_FOUND naming it. Either way, directories made here are removed again if the get fails
   * before anything was stored in them.
   */
  createLocalDir?: boolean;
  recursive?: boolean;
  chunkBytes?: number;
  overwrite?: boolean;
  /**
   * With `overwrite`, receive only what an existing local file lacks (PROTOCOL.md §5.17); default true.
   * False receives a replaced file whole.
   */
  delta?: boolean;
  durableBatchBytes?: number;
  /**
   * Where the leaf hashes of files downloaded are remembered (`<cacheDir>/leaves`), so a later delta
   * download against one of them hashes nothing of it (issue 16); none when undefined.
   */
  cacheDir?: string;
  /** TCP connections (each its own session) a large file is striped over; default DEFAULT_STREAMS. */
  streams?: number;
  /** Files from this size on use the extra streams; default PARALLEL_MIN_BYTES (64 MiB). */
  parallelMinBytes?: number;
  /**
   * Threads that open and hash received data (issue 14): 1 keeps it all on the event loop, more runs a
   * `SealPool` of that many worker threads for the whole operation, shared by its sessions. Default
   * DEFAULT_THREADS.
   */
  threads?: number;
  onEvent?: (event: TransferEvent) => void;
  /** Age from which a batch temporary a killed client left is swept (BATCH_TEMPORARY_MAX_AGE_MS); for tests. */
  batchTemporaryMaxAgeMs?: number;
  /**
   * Tests only: runs while the tree is finished (`finishTree`) between a check of a path and the act it
   * guards, as the server's `beforeTreeWrite` (a test swaps a directory on the way for a link there).
   */
  beforeTreeWrite?: BeforeTreeWrite;
}

/** One download as planned from the request and the server's listing. */
export interface FileJob {
  remotePath: string;
  /** Components under the local directory, already validated. */
  local: string[];
  /** As the server listed it, for the `planned` event; 0 when the listing refused it. */
  size?: number;
  /** The listing of this source was refused on its own: it fails with this error when its turn comes. */
  refused?: FerryError;
  /** `ferry sync`: the local entry of another kind this file replaces once it is ready (RootPath.replaces). */
  replaces?: 'link' | 'dir';
}

/**
 * The outcome of one download. `failed`: this file alone was refused, and the run carried on with the
 * others (the same policy as uploads: {@link failsOnlyThisJob}).
 */
type GetJobResult =
  | { kind: 'file'; result: DownloadResult }
  | { kind: 'failed'; file: string; remotePath: string; error: FerryError };

/** The whole plan: files to fetch, then links to make, then directories to finish (deepest first). */
export interface GetPlan {
  files: FileJob[];
  dirs: Array<{ local: string[]; mode: number; mtimeMs: number }>;
  /**
   * `rootDepth`: how many components of `local` name the downloaded tree a link must stay inside. `replaces`
   * (`ferry sync`): the local entry of another kind the link replaces when it is placed.
   */
  links: Array<{
    local: string[];
    target: string;
    mtimeMs: number;
    rootDepth: number;
    replaces?: 'file' | 'dir';
  }>;
}

/**
 * Downloads files (and with `recursive`, whole trees) into `localDir`, resuming across sessions like
 * uploads do. A file refused on its own (missing, not permitted, differing from the local file) does not
 * stop the others: it is reported as `transfer-failed`, and once the rest is done this rejects with the first
 * failure's code, naming it (as `sendFiles` does). Every name the server sends is treated as hostile: validated as a relative path, placed under
 * `localDir` without following any link, and links are only created when they stay inside the download.
 */
export async function getFiles(options: GetFilesOptions): Promise<DownloadResult[]> {
  if (options.remotePaths.length === 0) throw new FerryError('USAGE_INVALID', 'nothing to get');
  if (options.localName !== undefined && options.remotePaths.length !== 1)
    throw new FerryError('USAGE_INVALID', 'a local name needs exactly one source');
  return getPlanned(options, (session, _localDir, emit) => planDownloads(session, options, emit));
}

/**
 * Plans a get on its first session: `localDir` is the destination's real path (made if missing), and every
 * name in the plan must already be validated as {@link planDownloads} does (`ferry sync` plans its own).
 */
export type GetPlanner = (
  session: ClientSession,
  localDir: string,
  emit: (event: TransferEvent) => void,
) => Promise<GetPlan>;

/**
 * Carries out a get whose plan `planner` makes on the first session, exactly as {@link getFiles} does:
 * downloads resumed across sessions, one refused file not stopping the others, then links and directories;
 * with `threads` above 1, records are opened on one pool shared by every session of the operation.
 */
export async function getPlanned(options: GetFilesOptions, planner: GetPlanner): Promise<DownloadResult[]> {
  const threads = options.threads ?? DEFAULT_THREADS;
  if (threads <= 1) return getPlannedWith(options, planner);
  const openPool = new SealPool(threads);
  try {
    return await getPlannedWith({ ...options, openPool }, planner);
  } finally {
    await openPool.close();
  }
}

async function getPlannedWith(options: GetFilesOptions, planner: GetPlanner): Promise<DownloadResult[]> {
  const requestedDir = resolve(options.localDir);
  const created = await makeLocalDir(requestedDir, options.createLocalDir ?? true);
  // The destination the user named is theirs, links included (`/tmp` is one on macOS): it is resolved once,
  // here, and only what lies under it is held to the no-link rule (and re-checked before each rename).
  const localDir = await realpath(requestedDir);
  const emit = options.onEvent ?? (() => undefined);
  const home = await HomeInDestination.of(localDir, options.homeDir);
  let plan: GetPlan | undefined;
  const open = new OpenTransfers();
  try {
    const results = await withRetries<GetJobResult>(options, emit, async (session, done, noteProgress) => {
      if (!plan) {
        plan = await planner(session, localDir, emit);
        if (home) plan = home.leaveOut(plan, emit);
        // A tree (`-r`, a sync down) is listed first, so what exists is known; a plain get of a missing file
        // says the server's PATH_NOT_FOUND before anything local, as scp does.
        if (options.recursive) await assertDestinationWritable(localDir, plan);
        emit(plannedOf(plan));
      }
      // Opened on the first striped file of this attempt, ended with it (PROTOCOL.md §5.13.6).
      const extras = new ExtraStreams(options, (options.streams ?? DEFAULT_STREAMS) - 1);
      try {
        await runDownloads(
          session,
          plan,
          localDir,
          done,
          { ...options, extras },
          { emit, open, noteProgress },
        );
        await extras.end();
      } finally {
        extras.close();
      }
    });
    if (plan) await finishTree(plan, localDir, options, emit);
    const failures = results.filter(
      (r): r is Extract<GetJobResult, { kind: 'failed' }> => r.kind === 'failed',
    );
    if (failures.length > 0)
      throw jobsFailedError(
        // The server's refusal is about its file; a local failure about the destination here.
        failures.map(({ error, file, remotePath }) => ({
          error,
          name: error.remote ? remoteName(options.server, remotePath) : file,
        })),
        { total: results.length, files: true },
      );
    return results.map((r) => (r.kind === 'file' ? r.result : undefined)).filter((r) => r !== undefined);
  } catch (err) {
    const error = toFerryError(err);
    open.failAll(emit, error.code, error.message);
    await removeIfEmpty(requestedDir, created);
    throw error;
  }
}

/** Makes `dir` (and its parents) unless it exists; returns the top directory it created, if any. */
async function makeLocalDir(dir: string, create: boolean): Promise<string | undefined> {
  const stats = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (stats) return undefined;
  if (!create)
    throw new FerryError('PATH_NOT_FOUND', 'no such directory on this machine; add --mkdir to create it', {
      subject: dir,
    });
  return mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw onThisMachine(err, { root: dir, local: [] });
  });
}

/**
 * Removes the directories `makeLocalDir` created, from `dir` up to `top`, as long as they are empty: a failed
 * get leaves nothing behind but the partials a rerun resumes from.
 */
async function removeIfEmpty(dir: string, top: string | undefined): Promise<void> {
  if (top === undefined) return;
  for (let current = dir; ; current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty (a partial to resume from) or already gone
    }
    if (current === top || dirname(current) === current) return;
  }
}

/** The `planned` event: how many files and bytes the get means to fetch. */
function plannedOf(plan: GetPlan): TransferEvent {
  const bytes = plan.files.reduce((total, job) => total + (job.size ?? 0), 0);
  return { type: 'planned', files: plan.files.length, bytes };
}

async function runDownloads(
  session: ClientSession,
  plan: GetPlan,
  localDir: string,
  done: GetJobResult[],
  options: GetFilesOptions & { extras: ExtraStreams },
  { emit, open, noteProgress }: TransferReporting,
): Promise<void> {
  const window = new InFlightWindow(done, noteProgress);
  const start = async (job: FileJob): Promise<{ done: Promise<GetJobResult> }> => {
    // Named before anything can fail, so a failure of this file alone is reported with its name.
    const subject = {
      direction: 'download',
      file: join(localDir, ...job.local),
      remotePath: job.remotePath,
    } as const;
    // One file refused on its own does not end the run (the policy uploads follow too).
    const failed = (err: unknown): GetJobResult => {
      const error = directoryWithoutRecursive(
        onThisMachine(aboutRemotePath(err, options.server, job.remotePath), {
          root: localDir,
          local: job.local,
        }),
        options,
        job.remotePath,
      );
      if (!failsOnlyThisJob(error, session)) throw error;
      open.end(subject);
      emit({ type: 'transfer-failed', ...subject, code: error.code, message: error.message });
      return { kind: 'failed', file: subject.file, remotePath: job.remotePath, error };
    };
    try {
      const { done } = await startFile(job, subject);
      const settled = done.catch(failed);
      settled.catch(() => undefined);
      return { done: settled };
    } catch (err) {
      return { done: Promise.resolve(failed(err)) };
    }
  };
  const startFile = async (
    job: FileJob,
    subject: TransferSubject,
  ): Promise<{ done: Promise<GetJobResult> }> => {
    open.begin(subject);
    if (job.refused) throw job.refused;
    const resolved = await resolveUnderRoot(localDir, job.local, {
      createDirs: true,
      allowLink: job.replaces !== undefined,
      allowDirectory: job.replaces === 'dir',
    });
    const target = job.replaces ? { ...resolved, replaces: job.replaces } : resolved;
    const pending = await beginDownload(session, subject.remotePath, target, {
      chunkBytes: options.chunkBytes,
      overwrite: options.overwrite,
      delta: options.delta,
      durableBatchBytes: options.durableBatchBytes,
      knownLeafHashes:
        options.cacheDir === undefined ? undefined : KnownLeafHashes.at(join(options.cacheDir, 'leaves')),
      streams: options.extras.size + 1,
      extraStreams: options.extras.size > 0 ? () => options.extras.open() : undefined,
      parallelMinBytes: options.parallelMinBytes,
      onStarted: ({ size, heldBytes, reusedBytes }) => {
        emit({ type: 'transfer-started', ...subject, size, heldBytes, restarted: false });
        // Leaves a delta took from the old file (PROTOCOL.md §5.17) are held, but nothing was resumed.
        const resumed = heldBytes - reusedBytes;
        if (resumed > 0 && heldBytes < size)
          emit({ type: 'transfer-resumed', ...subject, size, fromBytes: resumed });
      },
      onVerified: (verifiedBytes, size) => {
        noteProgress();
        emit({ type: 'progress', ...subject, verifiedBytes, size });
      },
    });
    const named = (err: unknown): never => {
      const error = onThisMachine(aboutRemotePath(err, options.server, job.remotePath), {
        root: localDir,
        local: job.local,
      });
      // VERIFY_ONLY (PROTOCOL.md §5.11.1): our own comparison found *our* file differs from the server's copy.
      if (error.code === 'FILE_EXISTS' && target.exists && !options.overwrite && !error.remote)
        throw new FerryError('FILE_EXISTS', `differs from ${remoteName(options.server, job.remotePath)}`, {
          subject: target.path,
          cause: error,
        });
      throw error;
    };
    const tracked = pending.done.then((result) => {
      open.end(subject);
      emit({
        type: 'transfer-finished',
        ...subject,
        size: result.size,
        digest: result.digest,
        transferredBytes: result.receivedBytes,
        resumedBytes: result.resumedBytes,
        reusedBytes: result.reusedBytes,
        restarted: false,
        identical: result.identical,
      });
      return { kind: 'file', result } as const;
    }, named);
    tracked.catch(() => undefined);
    return { done: tracked };
  };
  /** Small files (PROTOCOL.md §5.20): one request and a few records for many, each placed as one file is. */
  const startBatch = async (group: readonly BatchedDownload[]): Promise<GetJobResult[]> => {
    for (const { subject } of group) open.begin(subject);
    const outcomes = await getBatch(session, group, {
      overwrite: options.overwrite,
      temporaryMaxAgeMs: options.batchTemporaryMaxAgeMs,
    });
    // The files the batch did not settle go the one-file path, FALLBACKS_IN_FLIGHT requests at a time: they
    // share this batch's one place in the window (§5.11.4 bounds what a client pipelines).
    const fallbacks = new Map<number, Promise<GetJobResult>>();
    const inFlight: Array<Promise<unknown>> = [];
    for (const [k, outcome] of outcomes.entries()) {
      if (outcome !== 'fallback') continue;
      if (inFlight.length >= FALLBACKS_IN_FLIGHT) await inFlight.shift();
      const { done } = await start(group[k]!.job);
      fallbacks.set(k, done);
      inFlight.push(done.catch(() => undefined));
    }
    // Every fallback settled first: one failing with its session must not leave the others writing.
    await Promise.allSettled(fallbacks.values());
    return Promise.all(
      outcomes.map(async (outcome, k): Promise<GetJobResult> => {
        const { job, subject, target } = group[k]!;
        if (outcome === 'fallback') return fallbacks.get(k)!;
        if (outcome instanceof FerryError) {
          // Compared locally, as VERIFY_ONLY's answer is (§5.11.1): *our* file differs from the server's.
          const error =
            outcome.code === 'FILE_EXISTS'
              ? new FerryError('FILE_EXISTS', `differs from ${remoteName(options.server, job.remotePath)}`, {
                  subject: target.path,
                  cause: outcome,
                })
              : outcome.remote
                ? outcome.about(target.path)
                : onThisMachine(outcome, { root: localDir, local: job.local });
          return failedBatched(job, subject, error);
        }
        noteProgress();
        const { size, identical } = outcome;
        emit({
          type: 'transfer-started',
          ...subject,
          size,
          heldBytes: identical ? size : 0,
          restarted: false,
        });
        if (!identical) emit({ type: 'progress', ...subject, verifiedBytes: size, size });
        open.end(subject);
        emit({
          type: 'transfer-finished',
          ...subject,
          size,
          digest: outcome.digest,
          transferredBytes: outcome.receivedBytes,
          resumedBytes: 0,
          reusedBytes: 0,
          restarted: false,
          identical,
        });
        return { kind: 'file', result: outcome };
      }),
    );
  };
  const failedBatched = (job: FileJob, subject: TransferSubject, error: FerryError): GetJobResult => {
    if (!failsOnlyThisJob(error, session)) throw error;
    open.end(subject);
    emit({ type: 'transfer-failed', ...subject, code: error.code, message: error.message });
    return { kind: 'failed', file: subject.file, remotePath: job.remotePath, error };
  };
  // GET_BATCHes sent and not yet answered (PROTOCOL.md §5.20: at most MAX_BATCHES_IN_FLIGHT).
  const batches: Array<Promise<unknown>> = [];
  // Directories of this run found real once (resolveUnderRoot's `knownDirs`): placing re-checks each.
  const knownDirs = new Set<string>();
  try {
    for (let index = 0; index < plan.files.length; index++) {
      if (done[index] !== undefined) continue;
      const group = await smallDownloadsFrom(plan.files, index, done, localDir, options, knownDirs);
      if (group.length > 1) {
        if (batches.length >= MAX_BATCHES_IN_FLIGHT) await batches.shift();
        await window.addGroup(
          group.map(({ index: at }) => at),
          () => {
            // Sent before anything later is asked for: startBatch sends its GET_BATCH before its first await.
            const settled = startBatch(group);
            settled.catch(() => undefined);
            batches.push(settled.catch(() => undefined));
            return Promise.resolve({ done: settled });
          },
        );
        index = group[group.length - 1]!.index;
        continue;
      }
      await window.add(index, () => start(plan.files[index]!));
    }
    await window.drain();
  } finally {
    session.leaveRunning(window.leftOver());
  }
}

/**
 * The server's refusal of a directory asked for as a file (its path is a directory: PATH_INVALID,
 * `destination is a directory`) in a get without -r: the user named a directory and forgot -r, as `send`
 * says of a local one. With -r the listing never asks for a directory as a file.
 */
function directoryWithoutRecursive(
  error: FerryError,
  options: GetFilesOptions,
  remotePath: string,
): FerryError {
  if (options.recursive || !error.remote || error.code !== 'PATH_INVALID') return error;
  if (error.detail !== 'destination is a directory') return error;
  return new FerryError('USAGE_INVALID', 'is a directory on the server: add -r to get it as a tree', {
    cause: error,
    subject: remoteName(options.server, remotePath),
  });
}

/** Requests in flight for the files of one batch that go the one-file path (see runDownloads). */
const FALLBACKS_IN_FLIGHT = 16;
