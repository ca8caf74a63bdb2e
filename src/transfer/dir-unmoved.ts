import { realpath } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';

/**
 * Checks, right before an act by name inside `dir` (a rename, link, mkdir, unlink or open), that `dir`, a
 * real path whose components the caller walked with `lstat` (`resolveUnderRoot`), still is its own real
 * path: a directory on the way swapped for a link since the walk would make the act land outside the root,
 * since every call by name follows it. The one re-check of every write under a root (PROTOCOL.md §7.1, docs/
 * SECURITY.md "Race conditions inside the root"): it narrows the window to microseconds; closing it needs
 * `renameat2`/`openat` with RESOLVE_BENEATH, which Node lacks.
 */
export async function assertDirUnmoved(dir: string): Promise<void> {
  if ((await realpath(dir)) !== dir)
    throw new FerryError('PATH_ESCAPES_ROOT', 'a directory on the path became a symbolic link');
}
