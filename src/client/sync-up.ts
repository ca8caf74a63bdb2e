// `ferry sync` of a local SRC onto a remote DST (see sync-tree.ts' syncTree): the plan, the upload jobs it
// makes, and the remote removals and attribute changes.
import { stat } from 'node:fs/promises';
import { FerryError, isFerryError } from '../errors/index.js';
import { EntryRequest } from '../machines/index.js';
import { MAX_PIPELINED, joinRemotePath } from '../protocol/index.js';
import { digestFile, walkLocalTree, type LocalTree, type WalkedInode } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { jobsFailedError, failsOnlyThisJob, type JobFailure } from './job-failure.js';
import { listRemote } from './list-remote.js';
import { remoteDigest } from './remote-digest.js';
import { aboutRemotePath, remoteName } from './remote-name.js';
import { batchable } from './send-batch.js';
import { runUploadJobs, type UploadJob } from './send-files.js';
import { localTreeEntries, remoteListingEntries } from './sync-entries.js';
import { filesToCompare, planSync, type SyncAction, type SyncCounts, type SyncEntry } from './sync-plan.js';
import { excludedInTheWay, holdingExcluded } from './sync-exclude.js';
import { atOrBelow, replacedAtCreation, sameDigests, type SyncTally } from './sync-shared.js';
import type { SyncSideOptions } from './sync-tree.js';
import { failingAfter } from './after-background.js';

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
export async function syncUp(options: SyncSideOptions, tally: SyncTally): Promise<SyncCounts> {
  const { remotePath } = options;
  // A missing or non-directory SRC costs no connection (one stat).
  if (!(await stat(options.localDir)).isDirectory())
    throw new FerryError('PATH_INVALID', 'not a directory', { subject: options.localDir });
  // SRC is walked for each plan, never before the attempt that plans: a plan made on a retry (the attempts
  // before it failed before their jobs were planned: connecting, listing, removing) walks again, as a new run
  // would, so a file an editor replaced in between is the one sent, and each job still reads only the file
  // its own plan's walk saw (`walked`: never through a link).
  const walks: Array<Promise<unknown>> = [];
  const walk = (): Promise<WalkedSource> => {
    const onSkip = options.onSkip ?? (() => undefined);
    const walked = walkLocalTree(options.localDir, onSkip, options.excluded.walkOptions).then((tree) => {
      const top = tree.dirs[tree.dirs.length - 1]!;
      const localOf = new Map(tree.files.map((f) => [f.relative.slice(top.relative.length + 1), f]));
      return { top, source: localTreeEntries(tree), localOf };
    });
    // Awaited by the plan; a walk that fails before then must not count as unhandled.
    walked.catch(() => undefined);
    walks.push(walked);
    return walked;
  };
  // The first attempt's walk runs while its session connects, shakes hands and lists DST (issue 16: they
  // were one after the other); a retry drops it unused.
  let nextWalk: Promise<WalkedSource> | undefined = walk();
  let counts: SyncCounts | undefined;
  const requestFailures: JobFailure[] = [];
  const plan = async (session: ClientSession): Promise<UploadJob[]> => {
    const walked = nextWalk ?? walk();
    nextWalk = undefined;
    const [{ top, source, localOf }, there] = await Promise.all([
      walked,
      remoteTree(session, options, { dropOutsideLinks: false }),
    ]);
    const inTheWay = excludedInTheWay(there.excludedTops, source);
    const destination = [...there.entries, ...inTheWay];
    const destinationTop = there.top;
    // A digest is asked for a file of this size: an offer of another size answers at once (remoteDigest).
    const sizes = new Map(source.flatMap((e) => (e.kind === 'file' ? [[e.path, e.size] as const] : [])));
    const identical = options.checksum
      ? await sameDigests(filesToCompare({ source, destination }), (path) => ({
          local: digestFile(localOf.get(path)!.localPath, { signal: options.signal }),
          remote: remoteDigest(session, joinRemotePath(remotePath, path), sizes.get(path)).then(
            (d) => d.digest,
          ),
        }))
      : undefined;
    const actions = planSync(
      { source, destination, top: { mode: top.mode, mtimeMs: top.mtimeMs }, destinationTop },
      {
        checksum: options.checksum ?? false,
        delete: options.delete ?? false,
        identical,
        excludedInTheWay: new Set(inTheWay.map((e) => e.path)),
        holdingExcluded: holdingExcluded(there.excludedTops, source),
      },
    );
    counts = tally.planned(actions, 'upload', remotePath);
    if (options.dryRun) return [];
    requestFailures.push(...(await requestRemote(session, actions, options, tally)));
    return uploadJobsOf(actions, remotePath, localOf, options);
  };
  // A file or link refused on its own fails the run once the others are done (runUploadJobs); a refused
  // removal was reported as it happened and fails the run after everything else went.
  await failingAfter(
    runUploadJobs(plan, {
      ...options,
      files: [],
      overwrite: true,
      deltaSessions: options.deltaSessions ?? SYNC_DELTA_SESSIONS,
      onEvent: (event) => {
        if (event.type === 'retrying') nextWalk = undefined;
        tally.onEvent(event);
      },
    }),
    walks,
  );
  if (requestFailures.length > 0)
    throw jobsFailedError(requestFailures, { total: requestFailures.length, files: false });
  return counts!;
}

/** What a walk of SRC gives a plan: its top directory, its entries, and each file as the walk saw it. */
interface WalkedSource {
  top: LocalTree['dirs'][number];
  source: SyncEntry[];
  localOf: Map<string, LocalTree['files'][number]>;
}

/**
 * The remote DST as sync entries, and its top directory's mode and mtime; a missing DST holds nothing, a file
 * is refused.
 */
async function remoteTree(
  session: ClientSession,
  options: SyncSideOptions,
  how: { dropOutsideLinks: boolean },
): Promise<{
  entries: SyncEntry[];
  /** DST's excluded entries themselves (`ExcludePatterns.filter`), for `excludedInTheWay`. */
  excludedTops: SyncEntry[];
  top: { mode: number; mtimeMs: number } | undefined;
}> {
  try {
    const listing = await listRemote(session, options.remotePath, { recursive: true });
    if (listing.isFile)
      throw new FerryError('USAGE_INVALID', 'the destination is a file: sync mirrors directories', {
        subject: remoteName(options.server, options.remotePath),
      });
    // DST's excluded entries are protected from `delete`, as rsync's are without --delete-excluded.
    const excludedTops: SyncEntry[] = [];
    return {
      entries: options.excluded.filter(remoteListingEntries(listing, options.remotePath, how), excludedTops),
      excludedTops,
      top: { mode: listing.mode, mtimeMs: listing.mtimeMs },
    };
  } catch (err) {
    if (isFerryError(err, 'PATH_NOT_FOUND')) return { entries: [], excludedTops: [], top: undefined };
    throw aboutRemotePath(err, options.server, options.remotePath);
  }
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
  localOf: ReadonlyMap<string, { localPath: string; walked: WalkedInode }>,
  options: Pick<SyncSideOptions, 'chunkBytes' | 'delta' | 'excluded'>,
): UploadJob[] {
  const remote = (path: string): string => (path === '' ? remotePath : joinRemotePath(remotePath, path));
  const batched: UploadJob[] = [];
  const files: UploadJob[] = [];
  const others: UploadJob[] = [];
  // A file replacing a remote link or directory goes on its own: a batch's entry never replaces one (§5.14).
  const replaced = replacedAtCreation(actions);
  // A replaced directory's names that are not UTF-8 go too (NOT_UTF8, §5.3, §5.10) only without excludes.
  const replacesNotUtf8 = options.excluded.removesNotUtf8 ? { replacesNotUtf8: true } : {};
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
        localPath: localOf.get(a.path)!.localPath,
        walked: localOf.get(a.path)!.walked,
        remotePath: remote(a.path),
        size: a.size,
        replaces: !whole,
        ...(alone ? { alone } : {}),
        ...(replaceDir ? { replaceDir, ...replacesNotUtf8 } : {}),
      });
    } else if (a.action === 'link')
      others.push({
        kind: 'link',
        remotePath: remote(a.path),
        target: a.target,
        mtimeMs: a.mtimeMs,
        ...(replaced.get(a.path) === 'dir' ? { replaceDir: true, ...replacesNotUtf8 } : {}),
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
 * Sends the plan's removals as REMOVE_REQUESTs (PROTOCOL.md §5.16), then its attribute changes as
 * SET_ATTRIBUTES (§5.19), pipelined: the server takes them in arrival order, removals deepest first as
 * planned, so each directory is empty when its turn comes. A request refused on its own is reported
 * (`entry-skipped`, "not removed: ..." or "mode and mtime not set: ...") and the others go on.
 */
async function requestRemote(
  session: ClientSession,
  actions: readonly SyncAction[],
  options: SyncSideOptions,
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
      // NOT_UTF8 (§5.16) only without excludes: a pattern cannot match such a name, so could not keep one.
      const notUtf8 = options.excluded.removesNotUtf8 ? { notUtf8: true as const } : {};
      await session.send(entry.request({ type: 'REMOVE_REQUEST', ref, ...notUtf8, path }));
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
