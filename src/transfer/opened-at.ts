import { readlinkSync } from 'node:fs';
import { FerryError } from '../errors/index.js';

/** What Linux appends to a descriptor's path once its file has been unlinked. */
const DELETED_SUFFIX = ' (deleted)';

/**
 * Checks that the file open as `fd` is the one at `path`, as the kernel resolved it at open time
 * (`/proc/self/fd`): ferry walks a path's directories with `lstat` before it opens the name with O_NOFOLLOW,
 * and Node has no `openat`, so a directory swapped for a link between the walk and the open (by a local
 * user, or by the same client's other session removing a directory and placing a link of its name) would
 * make the open land outside the root. `path` must be canonical (a real root joined with checked names).
 * Where `/proc` is not mounted the check cannot be made and is skipped (docs/SECURITY.md "Local attacker").
 */
export function assertOpenedAt(fd: number, path: string): void {
  let kernelPath: string;
  try {
    kernelPath = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (kernelPath === path) return;
  if (kernelPath === path + DELETED_SUFFIX)
    throw new FerryError('SOURCE_CHANGED', 'file was removed while it was opened', { subject: path });
  throw new FerryError('PATH_ESCAPES_ROOT', 'a directory on the way was replaced while opening', {
    subject: path,
  });
}
