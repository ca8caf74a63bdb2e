// `ferry sync` of a remote SRC onto a local DST (see sync-tree.ts' syncTree): the plan, the get plan it
// makes, and the local removals and attribute changes.
import { lstat, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { FILE_MODE_MASK, joinRemotePath } from '../protocol/index.js';
import {
  assertDirUnmoved,
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
  type BeforeTreeWrite,
} from '../transfer/index.js';
import { HomeInDestination } from './home-in-destination.js';
import type { ClientSession } from './client-session.js';
import type { GetPlan } from './download-plan.js';
import { getPlanned } from './get-files.js';
import { jobsFailedError, type JobFailure } from './job-failure.js';
import { listRemote } from './list-remote.js';
import { remoteDigest } from './remote-digest.js';
import { aboutRemotePath, remoteName } from './remote-name.js';
import { withRetries } from './send-files.js';
import { localDestinationEntries, remoteListingEntries } from './sync-entries.js';
import { filesToCompare, planSync, type SyncAction, type SyncCounts, type SyncEntry } from './sync-plan.js';
import { excludedInTheWay, holdingExcluded } from './sync-exclude.js';
import { leaveOutAliases } from './excluded-aliases.js';
import { leaveOutTemporaryNames } from './leave-out-temporary-names.js';
import { atOrBelow, replacedAtCreation, sameDigests, type SyncTally } from './sync-shared.js';
import type { SyncSideOptions } from './sync-tree.js';

/** Remote SRC to local DST: planned on the get's first session, then the downloads, links, directories. */
export async function syncDown(options: SyncSideOptions, tally: SyncTally): Promise<SyncCounts> {
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
    // DST's excluded directories themselves, for `excludedInTheWay`.
    const excludedTops: SyncEntry[] = [];
    // DST here is walked while the server lists SRC (issue 16: one after the other before).
    const local =
      localDir === undefined
        ? Promise.resolve<SyncEntry[]>([])
        : localDestinationEntries(localDir, {
            batchTemporaries: temporaries,
            excluded: options.excluded,
            excludedTops,
          });
    local.catch(() => undefined);
    const localTop =
      localDir === undefined ? Promise.resolve(undefined) : lstat(localDir).catch(() => undefined);
    const listed = await listRemote(session, options.remotePath, { recursive: true }).catch(
      (err: unknown) => {
        throw aboutRemotePath(err, options.server, options.remotePath);
      },
    );
    if (listed.isFile)
      throw new FerryError('USAGE_INVALID', 'the source is a file: sync mirrors directories', {
        subject: remoteName(options.server, options.remotePath),
      });
    // Patterns are ours alone: the server's listing is only ever what they are matched against.
    const listedEntries = remoteListingEntries(listed, options.remotePath, {
      dropOutsideLinks: true,
      onSkip,
    });
    const listedSource = leaveOutTemporaryNames(options.excluded.filter(listedEntries), onSkip);
    const home = localDir === undefined ? undefined : await HomeInDestination.of(localDir, options.homeDir);
    const walked = await local;
    // After the walk: it is what notes DST's excluded entries.
    const kept = leaveOutAliases(excludedTops, listedSource, onSkip);
    const inTheWay = excludedInTheWay(excludedTops, kept, listedEntries);
    const trees = { source: kept, destination: [...walked, ...inTheWay] };
    const { source, destination } = home ? home.leaveOutOfSync(trees, onSkip) : trees;
    const there = await localTop;
    const destinationTop = there && {
      mode: there.mode & FILE_MODE_MASK,
      mtimeMs: Math.trunc(there.mtimeMs),
    };
    const sourceTop = { mode: listed.mode, mtimeMs: listed.mtimeMs };
    // A digest is asked for a file of this size: an offer of another size answers at once (remoteDigest).
    const sizes = new Map(source.flatMap((e) => (e.kind === 'file' ? [[e.path, e.size] as const] : [])));
    const identical = options.checksum
      ? await sameDigests(filesToCompare({ source, destination }), (path) => ({
          // Only the file the walk of DST saw there: whether it is fetched tells the server if it matched.
          local: digestFile(join(localDir!, ...path.split('/')), { signal: options.signal, rooted: true }),
          remote: remoteDigest(session, joinRemotePath(options.remotePath, path), sizes.get(path)).then(
            (d) => d.digest,
          ),
        }))
      : undefined;
    const actions = planSync(
      { source, destination, top: sourceTop, destinationTop },
      {
        checksum: options.checksum ?? false,
        delete: options.delete ?? false,
        identical,
        excludedInTheWay: new Set(inTheWay.map((e) => e.path)),
        holdingExcluded: holdingExcluded(excludedTops, source),
      },
    );
    counts = tally.planned(actions, 'download', options.remotePath);
    // DST itself is the home, or inside it: its mode is left as it is too.
    const topChanges =
      actions.some((a) => a.action === 'dir' && a.path === '') && !home?.leavesOut('', 'dir');
    top = topChanges ? sourceTop : undefined;
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
  // The files the plan receives, by remote path: one found identical gets SRC's mode and mtime after.
  const receiving = new Map<string, Extract<SyncAction, { action: 'send' }>>();
  const identical: Array<Extract<SyncAction, { action: 'send' }>> = [];
  const planner = async (session: ClientSession, localDir: string): Promise<GetPlan> => {
    const actions = await planOn(session, localDir);
    receiving.clear();
    for (const a of actions)
      if (a.action === 'send') receiving.set(joinRemotePath(options.remotePath, a.path), a);
    await sweepSeenTemporaries(temporaries, options.batchTemporaryMaxAgeMs);
    // Names that are not UTF-8 go with their directory only when no exclude pattern could have kept one.
    const removal = { notUtf8: options.excluded.removesNotUtf8, beforeTreeWrite: options.beforeTreeWrite };
    requestFailures.push(...(await changeLocal(localDir, actions, tally, removal)));
    return getPlanOf(actions, options.remotePath, options.excluded.removesNotUtf8);
  };
  await getPlanned(
    {
      ...options,
      remotePaths: [options.remotePath],
      // As the caller named it: events name files under it (getPaths' rule).
      localDir: options.localDir,
      recursive: true,
      overwrite: true,
      createLocalDir: true,
      onEvent: (event) => {
        const a = event.type === 'transfer-finished' && event.identical && receiving.get(event.remotePath);
        if (a) identical.push(a);
        tally.onEvent(event);
      },
    },
    planner,
  );
  if (identical.length > 0) {
    // Same content under another mtime (a `touch`, a copy without -p): the quick check saw it changed and
    // the download left it untouched. It gets SRC's attributes, as rsync -a's do, or every run re-reads it.
    const real = await realpath(requested);
    requestFailures.push(...(await changeLocal(real, identical.map(attributesOf), tally, {})));
  }
  if (top) {
    // The top directory is DST itself, the one entry a get plan cannot name: its attributes come last.
    // Through a descriptor whose kernel path is checked, as every directory of the tree (finishTree).
    const real = await realpath(requested);
    await options.beforeTreeWrite?.(real, 'made');
    await setDirectoryAttributes(real, receivedDirectoryMode(top.mode), top.mtimeMs, { rooted: true });
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
 * The get plan of a plan's files, links and directories (the top directory is set apart). A file or link
 * that replaces a local entry of another kind carries it (`replaces`): the entry goes when its replacement
 * is placed, not before (see {@link replacedAtCreation}).
 */
function getPlanOf(actions: readonly SyncAction[], remotePath: string, notUtf8: boolean): GetPlan {
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
        ...(replaces === 'dir' && notUtf8 ? { replacesNotUtf8: true as const } : {}),
      });
    else if (a.action === 'link')
      plan.links.push({
        local,
        target: a.target,
        mtimeMs: a.mtimeMs,
        rootDepth: 0,
        ...(replaces === 'file' || replaces === 'dir' ? { replaces } : {}),
        ...(replaces === 'dir' && notUtf8 ? { replacesNotUtf8: true as const } : {}),
      });
    else if (a.action === 'dir' && a.path !== '') plan.dirs.push({ local, mode: a.mode, mtimeMs: a.mtimeMs });
  }
  return plan;
}

/** The attribute change that gives a file the plan receives SRC's mode and mtime. */
function attributesOf(a: Extract<SyncAction, { action: 'send' }>): SyncAction {
  return { action: 'attributes', path: a.path, mode: a.mode, mtimeMs: a.mtimeMs, size: a.size };
}

/**
 * The plan's removals, then its attribute changes, on this machine, under the real `root`, never following a
 * link (`removeUnderRoot`, `setAttributesUnderRoot`: the rules the server applies to the same requests).
 * `notUtf8`: a directory holding only names that are not UTF-8 goes with them (REMOVE_REQUEST's NOT_UTF8).
 */
async function changeLocal(
  root: string,
  actions: readonly SyncAction[],
  tally: SyncTally,
  removal: { notUtf8?: boolean; beforeTreeWrite?: BeforeTreeWrite | undefined },
): Promise<JobFailure[]> {
  const hook = removal.beforeTreeWrite;
  const failures: JobFailure[] = [];
  // Replaced by a file or link when that is ready (getPlanOf), with what a directory there holds.
  const atCreation = replacedAtCreation(actions);
  const newDirs = new Set(actions.flatMap((a) => (a.action === 'dir' ? [a.path] : [])));
  for (const a of actions) {
    if (a.action !== 'delete' && a.action !== 'attributes') continue;
    if (a.action === 'delete' && a.reason === 'replaced' && atOrBelow(a.path, atCreation)) continue;
    try {
      if (a.action === 'delete') {
        await removeUnderRoot(root, a.path.split('/'), { notUtf8: removal.notUtf8 });
        // A directory in place of a file or link: made in the same step (see replacedAtCreation).
        if (a.reason === 'replaced' && newDirs.has(a.path)) {
          const target = await resolveUnderRoot(root, a.path.split('/'), {
            createDirs: false,
            allowDirectory: true,
          });
          await hook?.(target.path, 'walked');
          // mkdir(2) by name follows a directory above swapped for a link since the walk (as PUT_DIR).
          await assertDirUnmoved(target.dir);
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
