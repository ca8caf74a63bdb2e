import { lstat, realpath, rmdir, unlink } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { fsyncDir } from './fsync-dir.js';
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
 * The one removal rule of both sides: the server's REMOVE_REQUEST and `ferry sync --delete` on this machine.
 */
export async function removeUnderRoot(root: string, components: readonly string[]): Promise<RemovedKind> {
  const target = await resolveUnderRoot(root, components, {
    createDirs: false,
    allowDirectory: true,
    allowLink: true,
  });
  if ((await realpath(target.dir)) !== target.dir)
    throw new FerryError('PATH_ESCAPES_ROOT', 'a directory above the entry moved');
  const stats = await lstat(target.path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new FerryError('PATH_NOT_FOUND', 'nothing to remove there');
    throw err;
  });
  try {
    if (stats.isDirectory()) await rmdir(target.path);
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
