import { lstat, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FerryError, isFerryError, toFerryError } from '../errors/index.js';
import { EntryRequest } from '../machines/index.js';
import { FILE_MODE_MASK, MAX_PIPELINED, joinRemotePath, parseRemotePath } from '../protocol/index.js';
import {
  BATCH_TEMPORARY_MAX_AGE_MS,
  CLIENT_BATCH_TEMP_PREFIX,
  digestFile,
  makeReceivedDirectory,
  receivedDirectoryMode,
  resolveUnderRoot,
  removeUnderRoot,
  setAttributesUnderRoot,
  setDirectoryAttributes,
  sweepBatchTemporaries,
  walkLocalTree,
} from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { getPlanned, type GetPlan } from './get-files.js';
import { jobsFailedError, failsOnlyThisJob, type JobFailure } from './job-failure.js';
import { listRemote } from './list-remote.js';
import { remoteDigest } from './remote-digest.js';
import { aboutRemotePath } from './remote-name.js';
import { batchable } from './send-batch.js';
import { runUploadJobs, withRetries, type ConnectOptions, type UploadJob } from './send-files.js';
import { localDestinationEntries, localTreeEntries, remoteListingEntries } from './sync-entries.js';
import {
  countSyncActions,
  filesToCompare,
  planSync,
  type SyncAction,
  type SyncCounts,
  type SyncEntry,
} from './sync-plan.js';
import type { TransferDirection, TransferEvent } from './transfer-events.js';

/**
 * What `syncTree` reports: the one client event stream of `send` and `get` ({@link TransferEvent}), plus
 * `sync-action`, once per planned action before anything changes (also in a dry run, where nothing follows).
 */
export type SyncEvent = TransferEvent | ({ type: 'sync-action'; direction: TransferDirection } & SyncAction);

export interface SyncTreeOptions extends ConnectOptions {
  /** `upload`: the local tree `localDir` onto `remotePath`; `download`: `remotePath` onto `localDir`. */
  direction: TransferDirection;
  /** The local directory: SRC of an upload, DST of a download (made if missing). */
  localDir: string;
  /** The remote directory ('/'-separated, '' for the client's root): DST of an upload, SRC of a download. */
  remotePath: string;
  /** Compare files by digest (PROTOCOL.md §7.2) instead of size and mtime. */
  checksum?: boolean;
  /** Remove from DST what SRC does not hold. Never without it. */
  delete?: boolean;
  /** False: changed files travel whole, not as deltas (PROTOCOL.md §5.15, §5.17); default true. */
  delta?: boolean;
  /** Extra sessions for an upload's deltas, beside the primary; default SYNC_DELTA_SESSIONS, 0 for none. */
  deltaSessions?: number;
  /** Plan and report (`sync-action` events), change nothing. */
  dryRun?: boolean;
  chunkBytes?: number;
  streams?: number;
  threads?: number;
  onEvent?: (event: SyncEvent) => void;
  /** Local entries of an upload's SRC left out (links leading outside it, special files). */
  onSkip?: (relative: string, reason: string) => void;
  /**
   * Downloading: a client batch temporary older than this (by ctime) in DST is a killed client's leftover
   * and is swept (default BATCH_TEMPORARY_MAX_AGE_MS; tests set it).
   */
  batchTemporaryMaxAgeMs?: number;
}

/** What a sync did (or, in a dry run, would do). */
export interface SyncSummary extends SyncCounts {
  dryRun: boolean;
  /** File bytes that crossed the wire: literals of a delta, whole files otherwise. */
  dataBytes: number;
  /** Bytes of changed files that a delta did not have to send (their size less the bytes that went). */
  savedBytes: number;
}

/**
 * Makes DST a mirror of SRC, one side local and the other on the server (`ferry sync`): the contents of SRC
 * become the contents of DST. Both trees are listed (the remote one by LIST, PROTOCOL.md §5.12), the pure rule
 * `planSync` decides, and the actions go the ways `send -r` and `get -r` go: new files sent, unchanged ones
 * (same size and mtime, or with `checksum` the same digest) skipped without reading, changed ones sent with
 * OVERWRITE, as deltas where the transfer offers one (§5.15), links and directories with their modes and
 * mtimes (a directory only where its attributes differ or the plan changes its entries), a file whose content is the same but whose mode (or, with `checksum`, mtime) is not given SRC's
 * without its data (SET_ATTRIBUTES §5.19 on the server; here the same rule), and with `delete` the entries
 * SRC lacks removed, deepest first (REMOVE_REQUEST §5.16 on the server; here the same rule, never following
 * a link). Resolves with the summary; rejects like `sendTree`/`getFiles`
 * when some entries failed, once the others are done, and with SYNC_CONFLICT when a directory in DST stood in
 * the way of an entry of SRC and `delete` was not given (a `conflict` action).
 */
export async function syncTree(options: SyncTreeOptions): Promise<SyncSummary> {
  if (options.remotePath !== '') parseRemotePath(options.remotePath);
  const tally = new SyncTally(options.onEvent);
  const counts =
    options.direction === 'upload' ? await syncUp(options, tally) : await syncDown(options, tally);
  // Everything else went: DST is still no mirror where a directory stood in the way of an entry of SRC.
  if (counts.conflicts > 0 && !options.dryRun)
    throw new FerryError(
      'SYNC_CONFLICT',
      `${counts.conflicts} ${counts.conflicts === 1 ? 'entry' : 'entries'} not placed`,
    );
  return {
    ...counts,
    dryRun: options.dryRun ?? false,
    dataBytes: tally.dataBytes,
    savedBytes: tally.savedBytes,
  };
}

/**
 * Extra sessions that carry an upload sync's deltas beside the primary (`deltaSessions` of runUploadJobs):
 * none by default. Measured on this machine's 2 shared cores at load 13-20 (the bench tree, 10 changed
 * files, 6-10 runs each, the median), one extra session made the changed-tree sync slower (657 -> 897 ms),
 * three too (970 -> 1307 ms): each costs a handshake, about 9 ms of client CPU here and 2.6 KB on the wire,
 * and the deltas it overlaps wait mostly on the same busy cores. Not measured on an idle machine (issue 16).
 */
export const SYNC_DELTA_SESSIONS = 0;

/**
 * A changed file of at most this size is sent whole (in a batch) rather than as a delta. Measured on the
 * bench tree (10 files of 7-62 KiB, 300 bytes rewritten in each): a delta cost 1.7 KB up and 0.9 KB down
 * (its offer, the signature, a 1-2 KiB literal), a round trip before its data and the server's signing; a
 * file of 4 KiB in a batch costs 4.1 KB and neither.
 */
export const WHOLE_CHANGED_MAX_BYTES = 4 * 1024;

/** Local SRC to remote DST: planned on the upload's first session, then the upload jobs. */
async function syncUp(options: SyncTreeOptions, tally: SyncTally): Promise<SyncCounts> {
  const { remotePath } = options;
  // A missing or non-directory SRC costs no connection (one stat); the walk itself runs while the session
  // connects, shakes hands and lists DST (issue 16: they were one after the other).
  if (!(await stat(options.localDir)).isDirectory())
    throw new FerryError('PATH_INVALID', 'not a directory', { subject: options.localDir });
  const walked = walkLocalTree(options.localDir, options.onSkip ?? (() => undefined)).then((tree) => {
    const top = tree.dirs[tree.dirs.length - 1]!;
    const localOf = new Map(tree.files.map((f) => [f.relative.slice(top.relative.length + 1), f.localPath]));
    return { top, source: localTreeEntries(tree), localOf };
  });
  // Awaited by the plan; a walk that fails before then must not count as unhandled.
  walked.catch(() => undefined);
  let counts: SyncCounts | undefined;
  const requestFailures: JobFailure[] = [];
  const plan = async (session: ClientSession): Promise<UploadJob[]> => {
    const [{ top, source, localOf }, { entries: destination, top: destinationTop }] = await Promise.all([
      walked,
      remoteTree(session, options, { dropOutsideLinks: false }),
    ]);
    const identical = options.checksum
      ? await sameDigests(filesToCompare({ source, destination }), (path) => ({
          local: digestFile(localOf.get(path)!, { signal: options.signal }),
          remote: remoteDigest(session, joinRemotePath(remotePath, path)).then((d) => d.digest),
        }))
      : undefined;
    const actions = planSync(
      { source, destination, top: { mode: top.mode, mtimeMs: top.mtimeMs }, destinationTop },
      { checksum: options.checksum ?? false, delete: options.delete ?? false, identical },
    );
    counts = tally.planned(actions, 'upload', remotePath);
    if (options.dryRun) return [];
    requestFailures.push(...(await requestRemote(session, actions, options, tally)));
    return uploadJobsOf(actions, remotePath, localOf, options);
  };
  // A file or link refused on its own fails the run once the others are done (runUploadJobs); a refused
  // removal was reported as it happened and fails the run after everything else went.
  await runUploadJobs(plan, {
    ...options,
    files: [],
    overwrite: true,
    deltaSessions: options.deltaSessions ?? SYNC_DELTA_SESSIONS,
    onEvent: tally.onEvent,
  });
  if (requestFailures.length > 0)
    throw jobsFailedError(requestFailures, { total: requestFailures.length, files: false });
  return counts!;
}

/** Remote SRC to local DST: planned on the get's first session, then the downloads, links, directories. */
async function syncDown(options: SyncTreeOptions, tally: SyncTally): Promise<SyncCounts> {
  const requested = resolve(options.localDir);
  const existing = await lstat(requested).catch(() => undefined);
  if (existing && !existing.isDirectory())
    throw new FerryError('USAGE_INVALID', 'the destination is not a directory', { subject: requested });
  let counts: SyncCounts | undefined;
  // SRC's top directory's attributes, when DST's top needs them (the plan's `dir` of '').
  let top: { mode: number; mtimeMs: number } | undefined;
  // The client batch temporaries the walk of DST saw, by directory (swept by their own policy, below).
  const temporaries = new Map<string, string[]>();
  const planOn = async (session: ClientSession, localDir: string | undefined): Promise<SyncAction[]> => {
    const onSkip = (path: string, reason: string): void =>
      tally.onEvent({ type: 'entry-skipped', path, reason });
    temporaries.clear();
    // DST here is walked while the server lists SRC (issue 16: one after the other before).
    const local =
      localDir === undefined
        ? Promise.resolve<SyncEntry[]>([])
        : localDestinationEntries(localDir, { batchTemporaries: temporaries });
    local.catch(() => undefined);
    const localTop =
      localDir === undefined ? Promise.resolve(undefined) : lstat(localDir).catch(() => undefined);
    const listed = await listRemote(session, options.remotePath, { recursive: true }).catch(
      (err: unknown) => {
        throw aboutRemotePath(err, options.server, options.remotePath);
      },
    );
    if (listed.isFile)
      throw new FerryError('USAGE_INVALID', 'the source is a file: sync mirrors directories');
    const source = remoteListingEntries(listed, options.remotePath, { dropOutsideLinks: true, onSkip });
    const destination = await local;
    const there = await localTop;
    const destinationTop = there && {
      mode: there.mode & FILE_MODE_MASK,
      mtimeMs: Math.trunc(there.mtimeMs),
    };
    const sourceTop = { mode: listed.mode, mtimeMs: listed.mtimeMs };
    const identical = options.checksum
      ? await sameDigests(filesToCompare({ source, destination }), (path) => ({
          local: digestFile(join(localDir!, ...path.split('/')), { signal: options.signal }),
          remote: remoteDigest(session, joinRemotePath(options.remotePath, path)).then((d) => d.digest),
        }))
      : undefined;
    const actions = planSync(
      { source, destination, top: sourceTop, destinationTop },
      { checksum: options.checksum ?? false, delete: options.delete ?? false, identical },
    );
    counts = tally.planned(actions, 'download', options.remotePath);
    top = actions.some((a) => a.action === 'dir' && a.path === '') ? sourceTop : undefined;
    return actions;
  };
  if (options.dryRun) {
    const real = existing ? await realpath(requested) : undefined;
    await withRetries(options, tally.onEvent, async (session) => {
      if (counts === undefined) await planOn(session, real);
    });
    return counts!;
  }
  const requestFailures: JobFailure[] = [];
  const planner = async (session: ClientSession, localDir: string): Promise<GetPlan> => {
    const actions = await planOn(session, localDir);
    await sweepSeenTemporaries(temporaries, options.batchTemporaryMaxAgeMs);
    requestFailures.push(...(await changeLocal(localDir, actions, tally)));
    return getPlanOf(actions, options.remotePath);
  };
  await getPlanned(
    {
      ...options,
      remotePaths: [options.remotePath],
      localDir: requested,
      recursive: true,
      overwrite: true,
      createLocalDir: true,
      onEvent: tally.onEvent,
    },
    planner,
  );
  if (top) {
    // The top directory is DST itself, the one entry a get plan cannot name: its attributes come last.
    await setDirectoryAttributes(await realpath(requested), receivedDirectoryMode(top.mode), top.mtimeMs);
  }
  if (requestFailures.length > 0)
    throw jobsFailedError(requestFailures, { total: requestFailures.length, files: false });
  return counts!;
}

/**
 * Sweeps the client batch temporaries a sync's walk of DST saw (`.ferry-batch-*`, left by a killed client's
 * GET_BATCH, PROTOCOL.md §5.20) by their one policy (`sweepBatchTemporaries`: that exact pattern, regular
 * files only, never through a link, only while the directory's real path is itself, older than the age by
 * ctime). A batched download sweeps only the directories it stages into, so a leftover in a directory no
 * later batch writes into stayed forever; the walk sees every directory. Before any batch of this run is
 * staged, so none of its own is ever met. A sweep that fails leaves them, as the batch's own sweep does.
 */
async function sweepSeenTemporaries(
  temporaries: ReadonlyMap<string, readonly string[]>,
  maxAgeMs = BATCH_TEMPORARY_MAX_AGE_MS,
): Promise<void> {
  const now = Date.now();
  for (const [dir, names] of temporaries)
    await sweepBatchTemporaries(dir, {
      prefix: CLIENT_BATCH_TEMP_PREFIX,
      maxAgeMs,
      now,
      real: true,
      names,
    }).catch(() => 0);
}

/**
 * The remote DST as sync entries, and its top directory's mode and mtime; a missing DST holds nothing, a file
 * is refused.
 */
async function remoteTree(
  session: ClientSession,
  options: SyncTreeOptions,
  how: { dropOutsideLinks: boolean },
): Promise<{ entries: SyncEntry[]; top: { mode: number; mtimeMs: number } | undefined }> {
  try {
    const listing = await listRemote(session, options.remotePath, { recursive: true });
    if (listing.isFile)
      throw new FerryError('USAGE_INVALID', 'the destination is a file: sync mirrors directories');
    return {
      entries: remoteListingEntries(listing, options.remotePath, how),
      top: { mode: listing.mode, mtimeMs: listing.mtimeMs },
    };
  } catch (err) {
    if (isFerryError(err, 'PATH_NOT_FOUND')) return { entries: [], top: undefined };
    throw aboutRemotePath(err, options.server, options.remotePath);
  }
}

/**
 * The paths of `paths` whose two digests are equal, computed a few at a time: the server answers verify-only
 * gets in order (PROTOCOL.md §5.11.4), so they are pipelined, bounded well under its 256.
 */
async function sameDigests(
  paths: readonly string[],
  digestsOf: (path: string) => { local: Promise<Buffer>; remote: Promise<Buffer> },
): Promise<Set<string>> {
  const identical = new Set<string>();
  const WINDOW = 32;
  for (let i = 0; i < paths.length; i += WINDOW) {
    await Promise.all(
      paths.slice(i, i + WINDOW).map(async (path) => {
        const { local, remote } = digestsOf(path);
        const [a, b] = await Promise.allSettled([local, remote]);
        // A file whose digest cannot be had on one side (not permitted, unreadable) is sent: it fails or
        // succeeds on its own there.
        if (a.status === 'fulfilled' && b.status === 'fulfilled' && a.value.equals(b.value))
          identical.add(path);
      }),
    );
  }
  return identical;
}

/**
 * The upload jobs of a plan: files, then links, then directories (PROTOCOL.md §5.10's order). Of the files,
 * those a batch can carry (small, and new or sent whole) come first, side by side: `runUploadJobs` batches
 * only consecutive small files (§5.14), and in a tree's walk order they alternate with larger ones, so most
 * batches held one or two files and the rest went one by one (issue 16). The server writes a batch in the
 * background while the files after it arrive.
 */
function uploadJobsOf(
  actions: readonly SyncAction[],
  remotePath: string,
  localOf: ReadonlyMap<string, string>,
  options: Pick<SyncTreeOptions, 'chunkBytes' | 'delta'>,
): UploadJob[] {
  const remote = (path: string): string => (path === '' ? remotePath : joinRemotePath(remotePath, path));
  const batched: UploadJob[] = [];
  const files: UploadJob[] = [];
  const others: UploadJob[] = [];
  // A file replacing a remote link or directory goes on its own: a batch's entry never replaces one (§5.14).
  const replaced = replacedAtCreation(actions);
  for (const a of actions) {
    if (a.action === 'send') {
      // A changed file goes on its own when it travels as a delta (send-files.ts); a new one, or one too
      // small for a delta to pay, goes whole.
      const whole = a.reason === 'new' || options.delta === false || a.size <= WHOLE_CHANGED_MAX_BYTES;
      const alone = replaced.get(a.path) === 'link';
      // A directory in the way goes with the upload's own placing (REPLACE_DIR, §5.3), not before.
      const replaceDir = replaced.get(a.path) === 'dir';
      (whole && !alone && !replaceDir && batchable(a.size, options.chunkBytes) ? batched : files).push({
        kind: 'file',
        localPath: localOf.get(a.path)!,
        remotePath: remote(a.path),
        size: a.size,
        replaces: !whole,
        ...(alone ? { alone } : {}),
        ...(replaceDir ? { replaceDir } : {}),
      });
    } else if (a.action === 'link')
      others.push({
        kind: 'link',
        remotePath: remote(a.path),
        target: a.target,
        mtimeMs: a.mtimeMs,
        ...(replaced.get(a.path) === 'dir' ? { replaceDir: true } : {}),
      });
    else if (a.action === 'dir') {
      // The client's root itself ('' as DST) is the server's to make; it takes no PUT_DIR.
      if (remote(a.path) !== '')
        others.push({ kind: 'dir', remotePath: remote(a.path), mode: a.mode, mtimeMs: a.mtimeMs });
    }
  }
  return [...batched, ...files, ...others];
}

/**
 * The get plan of a plan's files, links and directories (the top directory is set apart). A file or link
 * that replaces a local entry of another kind carries it (`replaces`): the entry goes when its replacement
 * is placed, not before (see {@link replacedAtCreation}).
 */
function getPlanOf(actions: readonly SyncAction[], remotePath: string): GetPlan {
  const plan: GetPlan = { files: [], dirs: [], links: [] };
  const replaced = replacedAtCreation(actions);
  for (const a of actions) {
    const local = a.path === '' ? [] : a.path.split('/');
    const replaces = replaced.get(a.path);
    if (a.action === 'send')
      plan.files.push({
        remotePath: joinRemotePath(remotePath, a.path),
        local,
        size: a.size,
        ...(replaces === 'link' || replaces === 'dir' ? { replaces } : {}),
      });
    else if (a.action === 'link')
      plan.links.push({
        local,
        target: a.target,
        mtimeMs: a.mtimeMs,
        rootDepth: 0,
        ...(replaces === 'file' || replaces === 'dir' ? { replaces } : {}),
      });
    else if (a.action === 'dir' && a.path !== '') plan.dirs.push({ local, mode: a.mode, mtimeMs: a.mtimeMs });
  }
  return plan;
}

/**
 * The local entries of another kind that a download's file or link replaces, by path, with their kind: they
 * are not removed before the transfers (a run that fails then would lose them with nothing in their place)
 * but when the replacement is ready beside them and renamed over (a file's verified partial, a link made
 * under a temporary name), as rsync does. A file or link in the way goes by the rename itself, a directory
 * (only with `--delete`) with what it holds right before it. A directory that replaces a file or link cannot
 * be renamed over it: that one is made in the same step as the removal (`changeLocal`), before the
 * transfers, since what it holds arrives into it.
 */
function replacedAtCreation(actions: readonly SyncAction[]): Map<string, SyncEntry['kind']> {
  const replacing = new Set<string>();
  for (const a of actions) if (a.action === 'send' || a.action === 'link') replacing.add(a.path);
  const replaced = new Map<string, SyncEntry['kind']>();
  for (const a of actions)
    if (a.action === 'delete' && a.reason === 'replaced' && replacing.has(a.path))
      replaced.set(a.path, a.kind);
  return replaced;
}

/** Whether `path` is, or lies below, one of `tops`. */
function atOrBelow(path: string, tops: ReadonlyMap<string, unknown>): boolean {
  for (let at = path; ; at = at.slice(0, at.lastIndexOf('/'))) {
    if (tops.has(at)) return true;
    if (!at.includes('/')) return false;
  }
}

/**
 * Sends the plan's removals as REMOVE_REQUESTs (PROTOCOL.md §5.16), then its attribute changes as
 * SET_ATTRIBUTES (§5.19), pipelined: the server takes them in arrival order, removals deepest first as
 * planned, so each directory is empty when its turn comes. A request refused on its own is reported
 * (`entry-skipped`, "not removed: ..." or "mode and mtime not set: ...") and the others go on.
 */
async function requestRemote(
  session: ClientSession,
  actions: readonly SyncAction[],
  options: SyncTreeOptions,
  tally: SyncTally,
): Promise<JobFailure[]> {
  const failures: JobFailure[] = [];
  // Requests in flight, oldest first: at most MAX_PIPELINED unanswered, as for every pipelined operation.
  const inFlight: Array<{ ref: number; entry: EntryRequest; path: string; relative: string; what: string }> =
    [];
  const settleOldest = async (): Promise<void> => {
    const { ref, entry, path, relative, what } = inFlight.shift()!;
    try {
      entry.receive(await session.take(ref));
    } catch (err) {
      const error = aboutRemotePath(err, options.server, path);
      if (!failsOnlyThisJob(error, session)) throw error;
      tally.onEvent({ type: 'entry-skipped', path: relative, reason: `${what}: ${error.message}` });
      failures.push({ error, name: path });
    } finally {
      session.closeRef(ref);
    }
  };
  // A remote entry that a file or link replaces goes by the upload's own placing (OVERWRITE for a file or
  // link, REPLACE_DIR for a directory with all it holds, PROTOCOL.md §5.3, §5.10), not before: a run that
  // fails first leaves it.
  const replaced = replacedAtCreation(actions);
  for (const a of actions) {
    if (a.action !== 'delete' && a.action !== 'attributes') continue;
    if (a.action === 'delete' && a.reason === 'replaced' && atOrBelow(a.path, replaced)) continue;
    if (inFlight.length >= MAX_PIPELINED) await settleOldest();
    const path = joinRemotePath(options.remotePath, a.path);
    const ref = session.openRef();
    const entry = new EntryRequest();
    if (a.action === 'delete') {
      inFlight.push({ ref, entry, path, relative: a.path, what: 'not removed' });
      await session.send(entry.request({ type: 'REMOVE_REQUEST', ref, path }));
    } else {
      inFlight.push({ ref, entry, path, relative: a.path, what: 'mode and mtime not set' });
      await session.send(
        entry.request({ type: 'SET_ATTRIBUTES', ref, mode: a.mode, mtimeMs: Math.trunc(a.mtimeMs), path }),
      );
    }
  }
  while (inFlight.length > 0) await settleOldest();
  return failures;
}

/**
 * The plan's removals, then its attribute changes, on this machine, under the real `root`, never following a
 * link (`removeUnderRoot`, `setAttributesUnderRoot`: the rules the server applies to the same requests).
 */
async function changeLocal(
  root: string,
  actions: readonly SyncAction[],
  tally: SyncTally,
): Promise<JobFailure[]> {
  const failures: JobFailure[] = [];
  // Replaced by a file or link when that is ready (getPlanOf), with what a directory there holds.
  const atCreation = replacedAtCreation(actions);
  const newDirs = new Set(actions.flatMap((a) => (a.action === 'dir' ? [a.path] : [])));
  for (const a of actions) {
    if (a.action !== 'delete' && a.action !== 'attributes') continue;
    if (a.action === 'delete' && a.reason === 'replaced' && atOrBelow(a.path, atCreation)) continue;
    try {
      if (a.action === 'delete') {
        await removeUnderRoot(root, a.path.split('/'));
        // A directory in place of a file or link: made in the same step (see replacedAtCreation).
        if (a.reason === 'replaced' && newDirs.has(a.path)) {
          const target = await resolveUnderRoot(root, a.path.split('/'), {
            createDirs: false,
            allowDirectory: true,
          });
          await makeReceivedDirectory(target.path);
        }
      } else await setAttributesUnderRoot(root, a.path.split('/'), { mode: a.mode, mtimeMs: a.mtimeMs });
    } catch (err) {
      // One entry that cannot be changed (not empty any more, a link above it, no permission) stays, is
      // reported, and the others go on, as a refused request on the server does.
      const error = toFerryError(err);
      const what = a.action === 'delete' ? 'not removed' : 'mode and mtime not set';
      tally.onEvent({ type: 'entry-skipped', path: a.path, reason: `${what}: ${error.message}` });
      failures.push({ error, name: join(root, a.path) });
    }
  }
  return failures;
}

/**
 * Counts what a sync plans and what its transfers put on the wire, and forwards every event. Wire bytes of
 * file data: a delta upload's literals (`transfer-delta`), else what `transfer-finished` says travelled.
 */
class SyncTally {
  readonly #emit: (event: SyncEvent) => void;
  readonly #literal = new Map<string, number>();
  /** The remote paths of the files the plan sends as changed: only they can save anything. */
  readonly #changed = new Set<string>();
  dataBytes = 0;
  savedBytes = 0;

  constructor(emit: ((event: SyncEvent) => void) | undefined) {
    this.#emit = emit ?? (() => undefined);
  }

  /** Reports the plan's actions (paths relative to `remoteBase` on the server) and counts them. */
  planned(actions: readonly SyncAction[], direction: TransferDirection, remoteBase: string): SyncCounts {
    for (const action of actions) {
      if (action.action === 'send' && action.reason === 'changed')
        this.#changed.add(joinRemotePath(remoteBase, action.path));
      this.#emit({ type: 'sync-action', direction, ...action });
    }
    return countSyncActions(actions);
  }

  readonly onEvent = (event: TransferEvent): void => {
    if (event.type === 'transfer-delta') this.#literal.set(event.remotePath, event.literalBytes);
    if (event.type === 'transfer-finished' && !event.identical) {
      const wire = this.#literal.get(event.remotePath) ?? event.transferredBytes;
      this.dataBytes += wire;
      // What did not cross the wire in this run: copies of the receiver's old file (a delta), and the
      // verified part of an interrupted attempt, whichever way the transfer counts them.
      if (this.#changed.has(event.remotePath)) this.savedBytes += Math.max(0, event.size - wire);
    }
    this.#emit(event);
  };
}
