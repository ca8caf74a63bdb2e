import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { FILE_MODE_MASK, parseRemotePath } from '../protocol/index.js';
import {
  CLIENT_BATCH_TEMP_PREFIX,
  isBatchTemporary,
  isFerryTemporaryName,
  manifestLookup,
  resolveLinkTarget,
  WalkFs,
  type LocalTree,
  type OnSkip,
  type TreeNode,
} from '../transfer/index.js';
import type { RemoteListing } from './list-remote.js';
import type { ExcludePatterns } from './sync-exclude.js';
import type { SyncEntry } from './sync-plan.js';

/** A walked local tree (`walkLocalTree`) as sync entries, relative to its top directory. */
export function localTreeEntries(tree: LocalTree): SyncEntry[] {
  const top = tree.dirs[tree.dirs.length - 1]!.relative;
  const below = (relative: string): string => relative.slice(top.length + 1);
  const entries: SyncEntry[] = [];
  for (const d of tree.dirs)
    if (d.relative !== top)
      entries.push({ kind: 'dir', path: below(d.relative), mode: d.mode, mtimeMs: d.mtimeMs });
  for (const f of tree.files)
    entries.push({ kind: 'file', path: below(f.relative), size: f.size, mtimeMs: f.mtimeMs, mode: f.mode });
  for (const l of tree.links)
    entries.push({ kind: 'link', path: below(l.relative), target: l.target, mtimeMs: l.mtimeMs });
  return entries;
}

/**
 * A server's listing of `base` as sync entries, relative to `base`. Every name comes from the other side
 * and is validated as the remote path it names (PROTOCOL.md §5.12, §7.1) before anything uses it: one that
 * is not a valid relative path below `base` (`..`, absolute, empty components, `.ferry` at the top) fails
 * the whole sync with PATH_INVALID before anything is changed, as `get -r` does. With `dropOutsideLinks`
 * (the listing is the source of a download), links whose target leaves the tree, resolved through the
 * listing's other links (`resolveLinkTarget`), are left out and reported to `onSkip`.
 */
export function remoteListingEntries(
  listing: RemoteListing,
  base: string,
  options: { dropOutsideLinks: boolean; onSkip?: OnSkip },
): SyncEntry[] {
  const depth = base === '' ? 0 : parseRemotePath(base).length;
  const entries: SyncEntry[] = [];
  for (const entry of listing.entries) {
    const relative = parseRemotePath(base === '' ? entry.path : `${base}/${entry.path}`).slice(depth);
    if (relative.length === 0) throw new FerryError('PATH_INVALID', 'a listed entry names the listed path');
    const path = relative.join('/');
    if (entry.kind === 'file')
      entries.push({ kind: 'file', path, size: entry.size, mtimeMs: entry.mtimeMs, mode: entry.mode });
    else if (entry.kind === 'dir')
      entries.push({ kind: 'dir', path, mode: entry.mode, mtimeMs: entry.mtimeMs });
    else entries.push({ kind: 'link', path, target: entry.linkTarget, mtimeMs: entry.mtimeMs });
  }
  if (!options.dropOutsideLinks) return entries;
  // The tree as it will be, under a virtual top name (depth 1), so each link is judged through the others.
  const TOP = 'top';
  const nodes = new Map<string, TreeNode>([[TOP, { kind: 'dir' }]]);
  for (const e of entries)
    nodes.set(`${TOP}/${e.path}`, e.kind === 'link' ? { kind: 'link', target: e.target } : { kind: e.kind });
  const lookup = manifestLookup(nodes);
  return entries.filter((e) => {
    if (e.kind !== 'link') return true;
    const inside = resolveLinkTarget(lookup, [TOP, ...e.path.split('/')], e.target, 1).verdict === 'inside';
    if (!inside) options.onSkip?.(e.path, 'symbolic link points outside the tree', 'link-outside-tree');
    return inside;
  });
}

/**
 * What a local destination directory holds, as sync entries relative to it: every file, directory and
 * link (wherever it points: a link is an entry to compare or remove, never followed), nothing below a link.
 * Special files, ferry's temporaries and names that are not valid remote path components are left out: a sync neither compares
 * nor removes them. A missing `root` holds nothing. `batchTemporaries`: where to note the names of a client's
 * batch temporaries seen, by directory (`sweepBatchTemporaries` decides which of them go). `excluded`: the
 * sync's exclude patterns: an entry they match is left out (so `--delete` never takes it), a directory not read;
 * `excludedTops` collects such entries, of every kind (see `excludedInTheWay`, `leaveOutAliases`; a link's
 * target is not read: '').
 */
export async function localDestinationEntries(
  root: string,
  options: {
    batchTemporaries?: Map<string, string[]>;
    excluded?: ExcludePatterns;
    excludedTops?: SyncEntry[];
  } = {},
): Promise<SyncEntry[]> {
  const entries: SyncEntry[] = [];
  const fs = new WalkFs();
  const visit = async (dir: string, relative: string): Promise<void> => {
    const names: string[] = [];
    // A name that is not UTF-8 is none a listing can hold, and its string opens another file or none
    // (directory-names.ts): left out, as a name the wire refuses is below, so --delete never takes it.
    for await (const { name, utf8 } of fs.names(dir)) if (utf8) names.push(name);
    names.sort();
    for (const name of names) {
      // ferry's own temporaries beside a destination (a download's partial, a link being placed) are not
      // entries: a later run resumes from them, so --delete must never take them.
      // A batch's temporary (`.ferry-batch-*`) may be another live client's: never compared nor removed here
      // (its caller sweeps the old ones by the batch temporaries' own policy).
      if (isBatchTemporary(name)) {
        if (name.startsWith(CLIENT_BATCH_TEMP_PREFIX)) {
          const seen = options.batchTemporaries?.get(dir);
          if (seen) seen.push(name);
          else options.batchTemporaries?.set(dir, [name]);
        }
        continue;
      }
      if (isFerryTemporaryName(name)) continue;
      const path = relative === '' ? name : `${relative}/${name}`;
      try {
        parseRemotePath(path);
      } catch {
        continue;
      }
      const full = join(dir, name);
      const stats = await fs.lstat(full);
      const mtimeMs = Math.trunc(stats.mtimeMs);
      const mode = stats.mode & FILE_MODE_MASK;
      if (options.excluded?.excludes(path, stats.isDirectory())) {
        // Not read; but SRC's own entry may find it in its way (`excludedInTheWay`: only a directory can be),
        // and on a case-insensitive DST a listed entry of its name in other letters is it (`leaveOutAliases`):
        // a file or link too (`--exclude '*.key'` and a listed `ID.KEY` over the user's `id.key`).
        if (stats.isDirectory()) options.excludedTops?.push({ kind: 'dir', path, mode, mtimeMs });
        else if (stats.isFile())
          options.excludedTops?.push({ kind: 'file', path, size: stats.size, mtimeMs, mode });
        else options.excludedTops?.push({ kind: 'link', path, target: '', mtimeMs });
        continue;
      }
      if (stats.isDirectory()) {
        entries.push({ kind: 'dir', path, mode, mtimeMs });
        await visit(full, path);
      } else if (stats.isFile()) entries.push({ kind: 'file', path, size: stats.size, mtimeMs, mode });
      else if (stats.isSymbolicLink())
        entries.push({ kind: 'link', path, target: await readlink(full), mtimeMs });
    }
  };
  const top = await lstat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (top === undefined) return entries;
  if (!top.isDirectory())
    throw new FerryError('USAGE_INVALID', 'the destination is not a directory', { subject: root });
  await visit(root, '');
  return entries;
}
