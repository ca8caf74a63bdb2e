import { realpath } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';

/**
 * Checks, right before an act by name inside `dir` (a rename, link, mkdir, unlink or open), that `dir`, a
 * real path whose components the caller walked with `lstat` (`resolveUnderRoot`), still is its own real
 * path: a directory on the way swapped for a link since the walk would make the act land outside the root,
 * since every call by name follows it. The one re-check of every write under a root (PROTOCOL.md §7.1, docs/
 * SECURITY.md "Race conditions inside the root"): it narrows the window to microseconds; closing it needs
 * `renameat2`/`openat` with RESOLVE_BENEATH, which Node lacks. A path given as bytes (a name on the way that
 * is not UTF-8, `removeTree`) is compared as bytes: as strings, U+FFFD would stand for any such byte, and a
 * swapped-in twin of the name would compare alike.
 */
export async function assertDirUnmoved(dir: string | Buffer): Promise<void> {
  const moved =
    typeof dir === 'string'
      ? (await realpath(dir)) !== dir
      : !(await realpath(dir, { encoding: 'buffer' })).equals(dir);
  if (moved) throw new FerryError('PATH_ESCAPES_ROOT', 'a directory on the path became a symbolic link');
}
