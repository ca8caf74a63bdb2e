import { isUtf8 } from 'node:buffer';
import { readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { localTopOf } from './local-top.js';
import { FerryError } from '../errors/index.js';
import type { WalkedInode } from './source-file.js';
import { FILE_MODE_MASK, parseRemotePath } from '../protocol/index.js';
import { manifestLookup, resolveLinkTarget, type TreeNode } from './link-target.js';
import { isFerryTemporaryName } from './ferry-temporary-name.js';
import { WalkFs } from './walk-fs.js';

/**
 * Why `walkLocalTree` leaves out an entry named as one of ferry's own temporaries (`isFerryTemporaryName`):
 * a receiver leaves such a name out of what it receives (stop 43), so it was sent for nothing, and it is
 * most often a live one of a download still arriving beside it (rsync never sends its own partial-dir).
 */
const FERRY_TEMPORARY_NOT_SENT =
  'its name is one ferry gives its own temporaries beside a download (a partial, its state, a link or a batch being placed), which receivers leave out, so it is not sent';

/**
 * The start of the reason `walkLocalTree` gives for a name the wire refuses (a control character, a
 * component too long: PROTOCOL.md §7.1): unlike a link out of the tree, such a file is one the user meant
 * to send, so a caller counts it as not sent.
 */
export const UNSENDABLE_NAME = 'name cannot be sent';

/**
 * Why an entry of a tree was left out, for a program to act on (`onSkip`'s third argument; the reason beside
 * it is for people and may change): `unsendable-name`, a name the wire refuses (PROTOCOL.md §7.1), a file
 * the user meant to send, counted as not sent; `link-outside-tree`, a link whose target leaves the tree;
 * `special-file`, a socket, fifo or device; `in-ferry-home`, an entry inside ferry's own home, which a sync
 * never changes; `ferry-temporary`, a name ferry gives its own temporaries ({@link FERRY_TEMPORARY_NOT_SENT}).
 */
export type SkipKind =
  'unsendable-name' | 'link-outside-tree' | 'special-file' | 'in-ferry-home' | 'ferry-temporary';

/** Told about each entry of a tree left out: its '/'-separated path, a reason for people, its {@link SkipKind}. */
export type OnSkip = (relative: string, reason: string, kind: SkipKind) => void;

/**
 * Whether the entry at `path` (relative to the walked top, '/'-separated, never '') is left out of a walk,
 * silently, as the user asked (`ferry sync --exclude`): a directory so left out is not read.
 */
export type ExcludeEntry = (path: string, isDirectory: boolean) => boolean;

/** A local directory tree as a manifest (PROTOCOL.md §5.10): relative paths use '/', whatever the OS. */
export interface LocalTree {
  /** `mtimeMs` in whole milliseconds, `mode` permission bits: what `ferry sync`'s quick check compares. */
  files: Array<{
    localPath: string;
    relative: string;
    size: number;
    mtimeMs: number;
    mode: number;
    /** The file the walk found at `localPath`: the only one a read of that name may open. */
    walked: WalkedInode;
  }>;
  /** Every directory including the top one, deepest first, so each is finished after its contents. */
  dirs: Array<{ relative: string; mode: number; mtimeMs: number }>;
  /** Links whose target, resolved through the other links of the tree, stays inside it. */
  links: Array<{ relative: string; target: string; mtimeMs: number }>;
}

/**
 * Walks `root` without following any link below it. The top directory is named by its base name, as
 * `scp -r` does. Entries that cannot travel are reported through `onSkip` and left out: links leading outside
 * the tree (absolute, or climbing out, also through other links of the tree: `resolveLinkTarget`),
 * special files (sockets, fifos, devices), names that are not valid remote path components, and names of
 * ferry's own temporaries (a directory so named with all below it).
 */
export async function walkLocalTree(
  root: string,
  onSkip: OnSkip,
  options: { exclude?: ExcludeEntry; fs?: WalkFs } = {},
): Promise<LocalTree> {
  const { exclude } = options;
  const walkFs = options.fs ?? new WalkFs();
  // The directory the user names is theirs, even through a link (`send -r ~/photos-link` like `scp -r`);
  // only what lies under it is never followed.
  const top = await stat(root);
  if (!top.isDirectory()) throw new FerryError('PATH_INVALID', 'not a directory');
  const tree: LocalTree = { files: [], dirs: [], links: [] };
  // `link/..` walked from its real path, `.` named as the directory it is (localTopOf: the same-name check
  // before a send names sources by the same rule).
  const { start, name: topName } = localTopOf(root);
  // Every entry, so each link is checked against the whole tree, not only what was walked before it.
  const nodes = new Map<string, TreeNode>();
  const links: LocalTree['links'] = [];
  /** A walked path (`TOP/a/b`) as the exclude patterns see it: `a/b`. */
  const below = (walked: string): string => walked.slice(topName.length + 1);
  const visit = async (dir: string, relative: string, mode: number, mtimeMs: number): Promise<void> => {
    const names: string[] = [];
    const unsendable = new Map<string, string>();
    for await (const { name, utf8 } of walkFs.names(dir)) {
      // Its string names another file or none (directory-names.ts): never opened, said as not sent.
      if (utf8) names.push(name);
      else unsendable.set(name, 'is not UTF-8');
    }
    names.sort();
    // Every entry's lstat (`WalkFs`: on this thread or side by side on libuv's pool), then each is taken in
    // name order.
    const sendable = names.filter((name) => {
      try {
        parseRemotePath(`${relative}/${name}`);
        return true;
      } catch (err) {
        unsendable.set(name, (err as FerryError).detail ?? 'invalid');
        return false;
      }
    });
    // A name the user excluded is left out without a word, even one the wire could not carry.
    const excludedUnsendable =
      exclude && unsendable.size > 0
        ? await excludedOf(
            dir,
            [...unsendable.keys()],
            (name, isDir) => exclude(below(`${relative}/${name}`), isDir),
            walkFs,
          )
        : new Set<string>();
    for (const [name, detail] of unsendable) {
      if (excludedUnsendable.has(name)) continue;
      // `path contains byte 0x1b at character 7` -> `contains byte 0x1b`: the name is said beside it.
      const why = detail.replace(/^path /, '').replace(/ at character \d+$/, '');
      onSkip(`${relative}/${name}`, `${UNSENDABLE_NAME}: ${why}`, 'unsendable-name');
    }
    const statted = await walkFs.lstatAll(sendable.map((name) => join(dir, name)));
    for (let k = 0; k < sendable.length; k++) {
      const name = sendable[k]!;
      const childRelative = `${relative}/${name}`;
      const full = join(dir, name);
      const stats = statted[k]!;
      if (stats instanceof Error) throw stats;
      // Never entered, never a node: a link into it is judged as the receiver will see it, without it.
      if (exclude?.(below(childRelative), stats.isDirectory())) continue;
      // Never a node either, nor entered: the receiver holds nothing under this name.
      if (isFerryTemporaryName(name)) {
        onSkip(childRelative, FERRY_TEMPORARY_NOT_SENT, 'ferry-temporary');
        continue;
      }
      if (stats.isDirectory()) {
        // Missing until a file shows it is made before the links (below).
        nodes.set(childRelative, { kind: 'missing' });
        await visit(full, childRelative, stats.mode & FILE_MODE_MASK, Math.trunc(stats.mtimeMs));
      } else if (stats.isFile()) {
        nodes.set(childRelative, { kind: 'file' });
        tree.files.push({
          localPath: full,
          relative: childRelative,
          size: stats.size,
          mtimeMs: Math.trunc(stats.mtimeMs),
          mode: stats.mode & FILE_MODE_MASK,
          walked: { dev: stats.dev, ino: stats.ino },
        });
      } else if (stats.isSymbolicLink()) {
        const bytes = await readlink(full, { encoding: 'buffer' });
        if (!isUtf8(bytes)) {
          // As a name (directory-names.ts): its string is another target, which the receiver would get.
          nodes.set(childRelative, { kind: 'other' });
          onSkip(childRelative, `${UNSENDABLE_NAME}: its link target is not UTF-8`, 'unsendable-name');
          continue;
        }
        const target = bytes.toString('utf8');
        nodes.set(childRelative, { kind: 'link', target });
        links.push({ relative: childRelative, target, mtimeMs: Math.trunc(stats.mtimeMs) });
      } else {
        nodes.set(childRelative, { kind: 'other' });
        onSkip(childRelative, 'not a regular file, directory or link', 'special-file');
      }
    }
    tree.dirs.push({ relative, mode, mtimeMs });
  };
  nodes.set(topName, { kind: 'dir' });
  await visit(start, topName, top.mode & FILE_MODE_MASK, Math.trunc(top.mtimeMs));
  // The tree as the server holds it when the links arrive (files, then links, then directories, §5.10): a
  // directory exists only when a file below it made it, so the client judges a link as the server will.
  for (const { relative } of tree.files) {
    const parts = relative.split('/');
    for (let i = 2; i < parts.length; i++) nodes.set(parts.slice(0, i).join('/'), { kind: 'dir' });
  }
  const lookup = manifestLookup(nodes);
  for (const link of links) {
    if (resolveLinkTarget(lookup, link.relative.split('/'), link.target, 1).verdict === 'inside')
      tree.links.push(link);
    else onSkip(link.relative, 'symbolic link points outside the tree', 'link-outside-tree');
  }
  return tree;
}

/** The names of `dir` that `exclude` leaves out (rare: only names the wire refuses are asked here). */
async function excludedOf(
  dir: string,
  names: readonly string[],
  exclude: (name: string, isDirectory: boolean) => boolean,
  walkFs: WalkFs,
): Promise<Set<string>> {
  const statted = await walkFs.lstatAll(names.map((name) => join(dir, name)));
  return new Set(
    names.filter((name, k) => {
      const stats = statted[k]!;
      return exclude(name, !(stats instanceof Error) && stats.isDirectory());
    }),
  );
}
