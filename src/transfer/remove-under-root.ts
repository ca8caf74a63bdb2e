import { isUtf8 } from 'node:buffer';
import { lstat, rmdir, unlink } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { assertDirUnmoved } from './dir-unmoved.js';
import { fsyncDir } from './fsync-dir.js';
import { holdsUtf8Name, removeNamesIn, removeTree, type BeforeRead } from './remove-tree.js';
import { resolveUnderRoot } from './root-path.js';

/** What {@link removeUnderRoot} removed. */
export type RemovedKind = 'file' | 'link' | 'dir';

/**
 * Removes the file, symbolic link or empty directory that validated components name under `root` (a real
 * path), never following a link (PROTOCOL.md §5.16, §7.1): every directory above it is `lstat`ed by
 * `resolveUnderRoot` (a link there is PATH_ESCAPES_ROOT), and its parent's real path is checked again right
 * before the removal, as a final rename is (`FilePartialStore`), since Node has no `unlinkat`. `unlink(2)`
 * removes a link itself, never its target; `rmdir(2)` refuses a non-empty directory, which is refused here
 * with PATH_INVALID rather than emptied: a tree is removed bottom-up by whoever asks, entry by entry.
 * Except, when asked (`notUtf8`, REMOVE_REQUEST's NOT_UTF8), for names no one can ask for: a name that is
 * not UTF-8 is left out of every walk and listing and can never travel (PROTOCOL.md §1), so a directory
 * holding nothing else goes with them, as rsync --delete (which works on bytes) removes them (`emptied`).
 * Never by default: an exclude pattern is UTF-8 and cannot match such a name, so a sync with excludes cannot
 * tell an excluded one, which --delete must keep, from the rest, and does not ask.
 * The one removal rule of both sides: the server's REMOVE_REQUEST and `ferry sync --delete` on this machine.
 */
export async function removeUnderRoot(
  root: string,
  components: readonly string[],
  options: { notUtf8?: boolean | undefined } = {},
): Promise<RemovedKind> {
  const target = await resolveUnderRoot(root, components, {
    createDirs: false,
    allowDirectory: true,
    allowLink: true,
  });
  await assertDirUnmoved(target.dir);
  const stats = await lstat(target.path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new FerryError('PATH_NOT_FOUND', 'nothing to remove there');
    throw err;
  });
  try {
    if (stats.isDirectory()) await removeDirectory(target.path, options.notUtf8 === true);
    else await unlink(target.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST')
      throw new FerryError('PATH_INVALID', 'directory is not empty');
    if (code === 'ENOENT') throw new FerryError('PATH_NOT_FOUND', 'nothing to remove there');
    throw err;
  }
  await fsyncDir(target.dir);
  return stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'link' : 'file';
}

/**
 * Clears `target.path` for a new entry of another kind that is renamed over it right after: `ferry sync`
 * replaces an entry at the moment its replacement is ready, as rsync does, so a run that fails before leaves
 * the old entry in place. A file or a link needs nothing (rename(2) replaces either, a link itself, never its
 * target). A directory, only when the caller said it replaces one (`replaces: 'dir'`, which sync asks only
 * with `--delete`), is removed with everything below it, bottom-up, never following a link: each directory is
 * `lstat`ed before it is read, and its real path checked before it is read and again right before each
 * removal in it (Node has no `openat`/`unlinkat`, as for every removal, `removeUnderRoot`): names read
 * through a directory swapped for a link meanwhile are never removed, nor is the directory itself. Names are
 * removed by their bytes (`removeTree`). Anything else there (a special
 * file, or a directory not declared) is refused as before. `target.dir` is a real path its caller checked.
 * Names that are not UTF-8 go only when asked (`notUtf8`), as for `removeUnderRoot`: no pattern can match
 * one, so a sync with excludes cannot tell an excluded one and does not ask (sync down here; sync up by the
 * replacing request's NOT_UTF8, PUT_OFFER and PUT_LINK with REPLACE_DIR, PROTOCOL.md §5.3, §5.10). Kept, they
 * keep their directories and the replacement fails (PATH_INVALID, NOT_UTF8_KEPT_IN_REPLACED), what went
 * before them gone.
 * `beforeRead` is a test's seam (the server's `beforeTreeWrite`): it runs before each directory is read.
 */
export async function clearForReplacement(
  target: { readonly dir: string; readonly path: string },
  replaces: RemovedKind,
  options: { beforeRead?: BeforeRead | undefined; notUtf8?: boolean | undefined } = {},
): Promise<void> {
  const stats = await lstat(target.path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stats || stats.isFile() || stats.isSymbolicLink()) return;
  if (!stats.isDirectory() || replaces !== 'dir')
    throw new FerryError('PATH_INVALID', 'destination is not a regular file');
  try {
    await removeTree(target.path, options.beforeRead, options.notUtf8 === true ? undefined : isUtf8);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (options.notUtf8 !== true && (code === 'ENOTEMPTY' || code === 'EEXIST'))
      throw new FerryError('PATH_INVALID', NOT_UTF8_KEPT_IN_REPLACED);
    throw err;
  }
  await fsyncDir(target.dir);
}

/**
 * `rmdir(2)` of the real directory `dir`, after the names only bytes can say when it holds nothing else and
 * `notUtf8` asks for them; without it such a directory is refused with a reason that says why it stays.
 */
async function removeDirectory(dir: string, notUtf8: boolean): Promise<void> {
  try {
    await rmdir(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  if (!notUtf8) {
    await assertDirUnmoved(dir);
    if (await holdsUtf8Name(dir)) throw new FerryError('PATH_INVALID', 'directory is not empty');
    throw new FerryError('PATH_INVALID', NOT_UTF8_KEPT);
  }
  if (!(await emptied(dir))) throw new FerryError('PATH_INVALID', 'directory is not empty');
  await rmdir(dir);
}

/** Why a directory a file or link replaces stays: names that are not UTF-8 below it were not asked for. */
const NOT_UTF8_KEPT_IN_REPLACED =
  'directory is not empty: names that are not UTF-8 are kept when a directory is replaced';

/** Why a directory holding only names that are not UTF-8 stays when they were not asked for. */
const NOT_UTF8_KEPT =
  'directory is not empty: names that are not UTF-8 are kept while an exclude is in effect';

/**
 * Readies the real directory `dir` for `rmdir(2)`: true when it holds nothing but names that are not UTF-8,
 * which are removed first (a directory among them with all below it, `removeNamesIn`: by bytes, never through
 * a link, `dir` checked right before each read and each removal). Such a name cannot be said on the wire nor
 * matched by a walk, so nobody could remove it first; node's string for it (U+FFFD for the byte) names
 * another file or none, so only its bytes are used: a twin spelt with a real U+FFFD is a name like any other,
 * and keeps the directory (false: `directory is not empty`, and nothing removed). A UTF-8 name appearing
 * meanwhile (another session's upload) is never removed here: `rmdir(2)` then refuses, as before.
 */
async function emptied(dir: string): Promise<boolean> {
  // Reading by name follows `dir` swapped for a link since `resolveUnderRoot` walked it.
  await assertDirUnmoved(dir);
  if (await holdsUtf8Name(dir)) return false;
  await removeNamesIn(dir, { only: (name) => !isUtf8(name) });
  // rmdir(2) by name follows a directory above swapped for a link since: checked as every removal is.
  await assertDirUnmoved(dir);
  return true;
}
