import { receivedDirectoryMode, receivedFileMode } from '../transfer/index.js';
import { compareText } from './code-unit-order.js';

/**
 * One entry of a tree as `ferry sync` compares it, on either side: `path` is relative to the tree's top,
 * '/'-separated, never '' (the top directory itself is `SyncTrees.top`). Sizes in bytes, times in
 * milliseconds since the epoch (whole milliseconds: what the listing carries, PROTOCOL.md §5.12).
 */
export type SyncEntry =
  | { kind: 'file'; path: string; size: number; mtimeMs: number; mode: number }
  | { kind: 'dir'; path: string; mode: number; mtimeMs: number }
  | { kind: 'link'; path: string; target: string; mtimeMs: number };

/** The two trees a sync compares: what SRC holds and what DST holds now (empty when DST is missing). */
export interface SyncTrees {
  source: readonly SyncEntry[];
  destination: readonly SyncEntry[];
  /** The mode and mtime of SRC's top directory, given to DST's top directory. */
  top: { mode: number; mtimeMs: number };
  /** DST's top directory as it is now, if it exists and is known: the top is then left alone when right. */
  destinationTop?: { mode: number; mtimeMs: number } | undefined;
}

export interface SyncPlanOptions {
  /** Compare content (digests) instead of size and mtime; files of another size differ without reading. */
  checksum?: boolean;
  /** Remove what DST holds and SRC does not. Never without it. */
  delete?: boolean;
  /**
   * With `checksum`: the paths of {@link filesToCompare} whose digests were found equal on both sides.
   * Any other file of that list is sent.
   */
  identical?: ReadonlySet<string>;
  /**
   * DST's directories that a directory-only exclude pattern left out but SRC's file or link of that path
   * meets (`excludedInTheWay`): their conflict says why the pattern did not keep them out of the way.
   */
  excludedInTheWay?: ReadonlySet<string>;
  /**
   * SRC's files and links whose DST directory holds an excluded entry below it (`holdingExcluded`): never
   * replaced, even with `delete`, since the excluded entry would go with the directory.
   */
  holdingExcluded?: ReadonlySet<string>;
}

/**
 * What a sync does with one entry. `send`: the file goes (`new`: DST lacks it; `changed`: DST holds another
 * content, sent as a delta). `skip`: unchanged, nothing read or sent. `attributes`: the content is the
 * same (by the quick check, or by digest with `checksum`) but the mode or the mtime is not: DST's file is
 * given SRC's (the mode as a received file gets it, `receivedFileMode`) without any data (PROTOCOL.md §5.19). `link`: made, or replaced when it
 * points elsewhere. `dir`: made if missing and given SRC's mode and mtime (deepest first, `''` for the top), unless
 * DST's already has them and nothing of the plan changes its entries (then `skip` of kind `dir`). `delete`: removed from DST (`extra`: SRC lacks it, only with `delete`; `replaced`: an
 * entry of another kind is in the way of SRC's). `conflict`: SRC's entry cannot be placed because a
 * directory is in the way and removing it needs `delete`.
 */
export type SyncAction =
  | { action: 'send'; path: string; reason: 'new' | 'changed'; size: number; mtimeMs: number; mode: number }
  | { action: 'skip'; path: string; kind: 'file' | 'link' | 'dir'; size: number }
  | { action: 'attributes'; path: string; mode: number; mtimeMs: number; size: number }
  | { action: 'link'; path: string; target: string; mtimeMs: number; replace: boolean }
  | { action: 'dir'; path: string; mode: number; mtimeMs: number }
  | { action: 'delete'; path: string; kind: SyncEntry['kind']; reason: 'extra' | 'replaced' }
  | { action: 'conflict'; path: string; reason: string; excluded?: boolean };

/**
 * Whether two files of the same path are the same by rsync's quick check: the same size and the same mtime
 * (to the millisecond). Neither file is read: this is what lets an unchanged tree re-sync without reading
 * its data.
 */
export function quickCheckEqual(
  source: { size: number; mtimeMs: number },
  destination: { size: number; mtimeMs: number },
): boolean {
  return source.size === destination.size && Math.trunc(source.mtimeMs) === Math.trunc(destination.mtimeMs);
}

/**
 * Whether DST's file already has what SRC's would get: the mode a received file gets from SRC's
 * (`receivedFileMode`, PROTOCOL.md §5.3: a source mode of 0o4777 arrives as 0o755, so it is no difference)
 * and the same mtime to the millisecond.
 */
export function sameAttributes(
  source: { mode: number; mtimeMs: number },
  destination: { mode: number; mtimeMs: number },
): boolean {
  return (
    receivedFileMode(source.mode) === destination.mode &&
    Math.trunc(source.mtimeMs) === Math.trunc(destination.mtimeMs)
  );
}

/**
 * Whether DST's directory already has what SRC's would get: the mode a received directory gets
 * (`receivedDirectoryMode`) and the same mtime to the millisecond.
 */
export function sameDirectoryAttributes(
  source: { mode: number; mtimeMs: number },
  destination: { mode: number; mtimeMs: number },
): boolean {
  return (
    receivedDirectoryMode(source.mode) === destination.mode &&
    Math.trunc(source.mtimeMs) === Math.trunc(destination.mtimeMs)
  );
}

/**
 * With `--checksum`, the paths whose content must be compared by digest: files on both sides with the same
 * size (another size is a change without reading anything).
 */
export function filesToCompare(trees: Pick<SyncTrees, 'source' | 'destination'>): string[] {
  const there = byPath(trees.destination);
  const paths: string[] = [];
  for (const entry of trees.source) {
    const other = there.get(entry.path);
    if (entry.kind === 'file' && other?.kind === 'file' && other.size === entry.size) paths.push(entry.path);
  }
  return paths;
}

/**
 * The sync of two trees as a pure rule: the actions that make DST a mirror of SRC, in the order they are to
 * be carried out: removals first (deepest first, so a directory is empty when its turn comes, and an entry
 * of the wrong kind is gone before SRC's takes its place), then files, then links, then directories
 * (deepest first, the top last, so writing into a directory does not move the mtime it is given, as `send
 * -r` orders them, PROTOCOL.md §5.10). Every SRC entry gets exactly one action; a DST entry gets a `delete`
 * only when it is in the way or `delete` is set. Paths are taken as given: the caller validated them.
 */
export function planSync(trees: SyncTrees, options: SyncPlanOptions = {}): SyncAction[] {
  const source = byPath(trees.source);
  const destination = byPath(trees.destination);
  const removals: Array<Extract<SyncAction, { action: 'delete' }>> = [];
  const files: SyncAction[] = [];
  const links: SyncAction[] = [];
  const dirs: Array<Extract<SyncAction, { action: 'dir' }>> = [];
  // SRC's directories DST already holds as directories, with their attributes there.
  const kept = new Map<string, { mode: number; mtimeMs: number }>();
  const conflicts: SyncAction[] = [];
  // DST entries removed so far, by path: what lies under a removed directory goes with it.
  const removed = new Set<string>();
  const remove = (entry: SyncEntry, reason: 'extra' | 'replaced'): void => {
    if (removed.has(entry.path)) return;
    removed.add(entry.path);
    removals.push({ action: 'delete', path: entry.path, kind: entry.kind, reason });
  };
  for (const entry of trees.source) {
    const other = destination.get(entry.path);
    if (other && other.kind !== entry.kind) {
      if (other.kind === 'dir') {
        // A directory in the way holds entries SRC does not have there: removing them is `--delete`'s call,
        // but never an excluded one's: the patterns protect what they match in DST, and a hostile server lists a
        // file of an excluded directory's name to have it removed (SECURITY.md, stop 36).
        const excludedItself = options.excludedInTheWay?.has(entry.path) === true;
        const excluded = excludedItself || options.holdingExcluded?.has(entry.path) === true;
        if (!options.delete || excluded) {
          const reason = excludedItself
            ? `an excluded directory is in the way (a pattern ending in / excludes directories only, not SRC's ${entry.kind}; --delete keeps it)`
            : excluded
              ? 'a directory holding excluded entries is in the way (--delete keeps them)'
              : 'a directory is in the way';
          conflicts.push({ action: 'conflict', path: entry.path, reason, ...(excluded ? { excluded } : {}) });
          continue;
        }
        for (const below of trees.destination)
          if (below.path.startsWith(`${entry.path}/`)) remove(below, 'replaced');
      }
      remove(other, 'replaced');
    }
    const present = other !== undefined && other.kind === entry.kind ? other : undefined;
    if (entry.kind === 'file') {
      const { path, size, mtimeMs, mode } = entry;
      if (present?.kind !== 'file') {
        files.push({ action: 'send', path, reason: 'new', size, mtimeMs, mode });
        continue;
      }
      const same = options.checksum
        ? present.size === size && (options.identical?.has(path) ?? false)
        : quickCheckEqual(entry, present);
      if (!same) files.push({ action: 'send', path, reason: 'changed', size, mtimeMs, mode });
      else if (sameAttributes(entry, present)) files.push({ action: 'skip', path, kind: 'file', size });
      // rsync -a's way: the content is there, only the mode or (with `checksum`) the mtime is not.
      else files.push({ action: 'attributes', path, mode, mtimeMs, size });
    } else if (entry.kind === 'link') {
      const { path, target, mtimeMs } = entry;
      if (present?.kind === 'link' && present.target === target)
        links.push({ action: 'skip', path, kind: 'link', size: 0 });
      else links.push({ action: 'link', path, target, mtimeMs, replace: present !== undefined });
    } else {
      if (present?.kind === 'dir' && !removed.has(entry.path)) kept.set(entry.path, present);
      dirs.push({ action: 'dir', path: entry.path, mode: entry.mode, mtimeMs: entry.mtimeMs });
    }
  }
  if (options.delete)
    for (const entry of trees.destination) if (!source.has(entry.path)) remove(entry, 'extra');
  removals.sort((a, b) => depthOf(b.path) - depthOf(a.path) || compareText(a.path, b.path));
  dirs.sort((a, b) => depthOf(b.path) - depthOf(a.path) || compareText(a.path, b.path));
  dirs.push({ action: 'dir', path: '', mode: trees.top.mode, mtimeMs: trees.top.mtimeMs });
  if (trees.destinationTop) kept.set('', trees.destinationTop);
  // A directory whose entries the plan adds, replaces or removes gets a new mtime from that (the renames,
  // links and removals), so it is given SRC's again afterwards; one left as it is and already right needs
  // no request at all (issue 16: an unchanged tree's re-sync sent a PUT_DIR per directory).
  const touched = new Set<string>();
  for (const a of [...removals, ...files, ...links, ...dirs])
    if (
      a.action === 'delete' ||
      a.action === 'send' ||
      a.action === 'link' ||
      (a.action === 'dir' && !kept.has(a.path))
    )
      if (a.path !== '') touched.add(parentOf(a.path));
  const settled = dirs.map((d): SyncAction => {
    const there = kept.get(d.path);
    return there && !touched.has(d.path) && sameDirectoryAttributes(d, there)
      ? { action: 'skip', path: d.path, kind: 'dir', size: 0 }
      : d;
  });
  return [...removals, ...conflicts, ...files, ...links, ...settled];
}

/** How many of each a plan holds, and the bytes of the files it sends (before any delta). */
export interface SyncCounts {
  filesSent: number;
  filesNew: number;
  filesChanged: number;
  filesSkipped: number;
  /** Files whose content was the same and whose mode or mtime was set (PROTOCOL.md §5.19). */
  attributesSet: number;
  linksMade: number;
  deleted: number;
  conflicts: number;
  bytesToSend: number;
}

/** Counts a plan's actions (`bytesToSend`: the sizes of the files it sends). */
export function countSyncActions(actions: readonly SyncAction[]): SyncCounts {
  const counts: SyncCounts = {
    filesSent: 0,
    filesNew: 0,
    filesChanged: 0,
    filesSkipped: 0,
    attributesSet: 0,
    linksMade: 0,
    deleted: 0,
    conflicts: 0,
    bytesToSend: 0,
  };
  for (const action of actions) {
    if (action.action === 'send') {
      counts.filesSent++;
      if (action.reason === 'new') counts.filesNew++;
      else counts.filesChanged++;
      counts.bytesToSend += action.size;
    } else if (action.action === 'skip' && action.kind === 'file') counts.filesSkipped++;
    else if (action.action === 'attributes') counts.attributesSet++;
    else if (action.action === 'link') counts.linksMade++;
    else if (action.action === 'delete') counts.deleted++;
    else if (action.action === 'conflict') counts.conflicts++;
  }
  return counts;
}

function byPath(entries: readonly SyncEntry[]): Map<string, SyncEntry> {
  return new Map(entries.map((entry) => [entry.path, entry]));
}

/** The directory holding `path` ('' for the top). */
function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function depthOf(path: string): number {
  return path === '' ? 0 : path.split('/').length;
}
