import { lstat, mkdir } from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { assertDirUnmoved } from './dir-unmoved.js';
import { RECEIVED_MODE_LIMIT } from './received-mode.js';

/** Where a remote path lands under a root: the parent directory (which exists) and the final name. */
export interface RootPath {
  readonly dir: string;
  readonly name: string;
  readonly path: string;
  /** Whether a regular file already exists at `path`. */
  readonly exists: boolean;
  /**
   * An entry of another kind at `path` that the new file replaces when it is placed (`ferry sync`, which saw
   * it in its walk): a link, or with `--delete` a directory (`clearForReplacement`). On a server, only what
   * the offer's flags allow (PROTOCOL.md §5.3: OVERWRITE a link, REPLACE_DIR a directory).
   */
  readonly replaces?: 'link' | 'dir' | undefined;
  /**
   * Names that are not UTF-8 below a replaced directory go too (`clearForReplacement`'s `notUtf8`): asked only
   * by a sync without excludes, down on this machine, up by PUT_OFFER's NOT_UTF8 (PROTOCOL.md §5.3).
   */
  readonly replacesNotUtf8?: boolean | undefined;
}

/**
 * Maps validated remote path components (see `parseRemotePath`) under `root` without following any
 * symbolic link (PROTOCOL.md §7.1). Every existing component is `lstat`ed: a link anywhere is refused, so
 * a link planted inside the root cannot lead a write outside it. Missing directories are created when
 * `createDirs` is set. The final name may not exist yet; if it exists it must be a regular file.
 *
 * Error details never include the server's paths: they travel to the client.
 */
export async function resolveUnderRoot(
  root: string,
  components: readonly string[],
  options: {
    createDirs: boolean;
    allowDirectory?: boolean;
    allowLink?: boolean;
    /**
     * A link at the final name is accepted as the entry a new file replaces when it is placed (`replaces:
     * 'link'`; PUT_OFFER with OVERWRITE, PROTOCOL.md §5.3), renamed over, never followed.
     */
    replaceLink?: boolean;
    /**
     * A directory at the final name is accepted as the entry a new file replaces, with all it holds, when it
     * is placed (`replaces: 'dir'`; PUT_OFFER with REPLACE_DIR, PROTOCOL.md §5.3), not before.
     */
    replaceDir?: boolean;
    /**
     * Directories this caller already walked and found to be real directories (a session's many files in
     * one tree are checked once). Safe because every write re-checks its directory's real path right
     * before the final rename (`FilePartialStore`'s `finish`).
     */
    knownDirs?: Set<string>;
    /** A test's seam (the server's `beforeTreeWrite`): runs before a missing directory is made in `dir`. */
    beforeMkdir?: ((dir: string) => Promise<void>) | undefined;
  },
): Promise<RootPath> {
  if (components.length === 0) throw new FerryError('PATH_INVALID', 'empty path');
  let dir = root;
  for (let i = 0; i < components.length - 1; i++) {
    const next = join(dir, components[i]!);
    if (options.knownDirs?.has(next)) {
      dir = next;
      continue;
    }
    const kind = await entryKind(next);
    if (kind === 'missing') {
      if (!options.createDirs) throw new FerryError('PATH_NOT_FOUND', `component ${i + 1} does not exist`);
      await options.beforeMkdir?.(dir);
      // mkdir(2) by name follows a directory above swapped for a link since its lstat: checked right before,
      // so no directory is made outside the root.
      await assertDirUnmoved(dir);
      try {
        // A missing parent of what a receiver writes: no more open than anything it receives (§5.3).
        await mkdir(next, { mode: RECEIVED_MODE_LIMIT });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // Check again: a concurrent creator may have put a link there between our lstat and mkdir.
      if ((await entryKind(next)) !== 'dir')
        throw new FerryError('PATH_ESCAPES_ROOT', `component ${i + 1} is not a directory`);
    } else if (kind === 'link') {
      throw new FerryError('PATH_ESCAPES_ROOT', `component ${i + 1} is a symbolic link`);
    } else if (kind !== 'dir') {
      throw new FerryError('PATH_INVALID', `component ${i + 1} is not a directory`);
    }
    options.knownDirs?.add(next);
    dir = next;
  }
  const name = components[components.length - 1]!;
  const path = join(dir, name);
  // The last component is checked but never followed: a directory or link there is only accepted by the
  // callers that create one (PUT_DIR, PUT_LINK).
  const kind = await entryKind(path);
  if (kind === 'link' && options.replaceLink) return { dir, name, path, exists: false, replaces: 'link' };
  if (kind === 'dir' && options.replaceDir) return { dir, name, path, exists: false, replaces: 'dir' };
  if (kind === 'link' && !options.allowLink)
    throw new FerryError('PATH_ESCAPES_ROOT', 'destination is a symbolic link');
  if (kind === 'dir' && !options.allowDirectory)
    throw new FerryError('PATH_INVALID', 'destination is a directory');
  if (kind === 'other') throw new FerryError('PATH_INVALID', 'destination is not a regular file');
  return { dir, name, path, exists: kind === 'file' };
}

/**
 * The directory walk of {@link resolveUnderRoot} without `createDirs`, for code reading many existing files
 * (a batched download, PROTOCOL.md §5.20): the same refusals, one `lstat` per directory not already in
 * `knownDirs`. The final name is not looked at: the caller opens it with O_NOFOLLOW, which refuses a link
 * there as resolveUnderRoot does.
 */
export async function resolveParent(
  root: string,
  components: readonly string[],
  knownDirs: Set<string>,
): Promise<{ dir: string; name: string; path: string }> {
  if (components.length === 0) throw new FerryError('PATH_INVALID', 'empty path');
  let dir = root;
  for (let i = 0; i < components.length - 1; i++) {
    const next = join(dir, components[i]!);
    if (!knownDirs.has(next)) {
      assertWalkedDir(await entryKind(next), i);
      knownDirs.add(next);
    }
    dir = next;
  }
  const name = components[components.length - 1]!;
  return { dir, name, path: join(dir, name) };
}

/** The refusals of a directory component (`i`, from 0) of a walk that creates nothing. */
function assertWalkedDir(kind: EntryKind, i: number): void {
  if (kind === 'missing') throw new FerryError('PATH_NOT_FOUND', `component ${i + 1} does not exist`);
  if (kind === 'link') throw new FerryError('PATH_ESCAPES_ROOT', `component ${i + 1} is a symbolic link`);
  if (kind !== 'dir') throw new FerryError('PATH_INVALID', `component ${i + 1} is not a directory`);
}

/** Refuses a destination that is a link or not a regular file; a missing one is fine. */
export async function assertWritableTarget(path: string): Promise<'missing' | 'file'> {
  return writableVerdict(await entryKind(path));
}

/**
 * {@link assertWritableTarget} for synchronous code (the batch writer's worker thread, PROTOCOL.md §5.14):
 * the same rule, answered with one `lstat`.
 */
export function assertWritableTargetSync(path: string): 'missing' | 'file' {
  let kind: EntryKind;
  try {
    kind = kindOf(lstatSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    kind = 'missing';
  }
  return writableVerdict(kind);
}

function writableVerdict(kind: EntryKind): 'missing' | 'file' {
  if (kind === 'link') throw new FerryError('PATH_ESCAPES_ROOT', 'destination is a symbolic link');
  if (kind === 'dir' || kind === 'other')
    throw new FerryError('PATH_INVALID', 'destination is not a regular file');
  return kind;
}

type EntryKind = 'missing' | 'dir' | 'file' | 'link' | 'other';

async function entryKind(path: string): Promise<EntryKind> {
  try {
    return kindOf(await lstat(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}

function kindOf(st: Stats): EntryKind {
  if (st.isSymbolicLink()) return 'link';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

/**
 * Finds an existing entry under `root` (an empty list names the root) without following links in any
 * directory component. The last component is `lstat`ed: a link there is returned as a link, not followed.
 */
export async function resolveExisting(
  root: string,
  components: readonly string[],
): Promise<{ path: string; stats: Stats }> {
  let path = root;
  let stats = await lstat(root);
  for (let i = 0; i < components.length; i++) {
    if (!stats.isDirectory()) throw new FerryError('PATH_NOT_FOUND', `component ${i} is not a directory`);
    path = join(path, components[i]!);
    try {
      stats = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FerryError('PATH_NOT_FOUND');
      throw err;
    }
    if (stats.isSymbolicLink() && i < components.length - 1) {
      throw new FerryError('PATH_ESCAPES_ROOT', `component ${i + 1} is a symbolic link`);
    }
  }
  return { path, stats };
}
