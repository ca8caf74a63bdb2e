import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';

/**
 * How {@link openNoFollow} opens: `create` makes a new file and fails when anything has the name (a link
 * included); `update` and `read` open an existing regular file; `directory` an existing directory.
 */
export type NoFollowMode = 'create' | 'update' | 'read' | 'directory';

const FLAGS: Record<NoFollowMode, number> = {
  create: fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL,
  update: fsConstants.O_RDWR,
  read: fsConstants.O_RDONLY,
  directory: fsConstants.O_RDONLY | fsConstants.O_DIRECTORY,
};

/**
 * The `open(2)` flags of {@link openNoFollow} for `mode`, for synchronous code that must open the same way
 * (the batch writer's worker thread, PROTOCOL.md §5.14).
 */
export function noFollowFlags(mode: NoFollowMode): number {
  return FLAGS[mode] | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;
}

/**
 * The one way ferry opens a file under a root or a destination (its partials, state files and their
 * temporaries included): never through a symbolic link at the last component (`O_NOFOLLOW`; a link there
 * is PATH_ESCAPES_ROOT), never blocking on a fifo (`O_NONBLOCK`, which regular files ignore), and only a
 * regular file (or, for `directory`, a directory) is kept open. New files are made with `O_EXCL`, so a
 * name that appeared meanwhile is never opened instead. The directories above `path` are the caller's to
 * have checked (`resolveUnderRoot`): Node has no `openat`.
 */
export async function openNoFollow(path: string, mode: NoFollowMode, fileMode = 0o600): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, noFollowFlags(mode), fileMode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP is what O_NOFOLLOW answers for a link; ENOTDIR for `directory` on a link to one.
    if (code === 'ELOOP' || (code === 'ENOTDIR' && mode === 'directory'))
      throw new FerryError('PATH_ESCAPES_ROOT', 'a symbolic link is in the way', { cause: err });
    throw err;
  }
  try {
    const stats = await handle.stat();
    if (mode === 'directory' ? !stats.isDirectory() : !stats.isFile())
      throw new FerryError('PATH_INVALID', `not a ${mode === 'directory' ? 'directory' : 'regular file'}`);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}
