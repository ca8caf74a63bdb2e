import { lstat, mkdir, realpath, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { DEFAULT_THREADS, SealPool, type BeforeTreeWrite } from '../transfer/index.js';
import { HomeInDestination } from './home-in-destination.js';
import { assertDestinationWritable } from './destination-writable.js';
import type { ClientSession } from './client-session.js';
import type { DownloadResult } from './download-file.js';
import { plannedOf, type GetPlan } from './download-plan.js';
import type { GetJobResult } from './download-starter.js';
import { planDownloads } from './get-plan.js';
import { ExcludePatterns } from './sync-exclude.js';
import { remoteName } from './remote-name.js';
import { onThisMachine } from './on-this-machine.js';
import { finishTree } from './finish-tree.js';
import { jobsFailedError } from './job-failure.js';
import { DEFAULT_STREAMS, ExtraStreams } from './extra-sessions.js';
import { runDownloads } from './run-downloads.js';
import { withRetries, type ConnectOptions } from './send-files.js';
import { OpenTransfers, type TransferEvent } from './transfer-events.js';

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
  /**
   * With `recursive`: patterns of the entries of each listed tree to leave out, relative to the tree's top,
   * as `syncTree`'s `exclude`; remote paths named in `remotePaths` are always fetched.
   */
  exclude?: readonly string[];
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
  // Compiled here, so a pattern that names nothing is refused before any connection.
  const excluded = new ExcludePatterns(options.exclude ?? []);
  return getPlanned(options, (session, localDir, emit) =>
    planDownloads(session, { ...options, localDir, excluded }, emit),
  );
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
    throw new FerryError('PATH_NOT_FOUND', 'no such directory on this machine', {
      subject: dir,
      hint: 'add --mkdir to create it',
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
