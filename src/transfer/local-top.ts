import { realpathSync } from 'node:fs';
import { basename } from 'node:path';

/** A local directory named as a tree's top: where its walk starts, and the name it is stored under. */
export interface LocalTop {
  /** `root` as given, or its real path when its text holds `..`. */
  start: string;
  /** The last component as typed, or the real directory's name for `.` and `..`; `root` for `/`. */
  name: string;
}

/**
 * Where the walk of a local top starts and what it is named: the one rule for `walkLocalTree` and for the
 * same-name check that runs before it (`refuseSameNameSends`), so both name `link/..` after what the kernel
 * finds. A top with `..` in its text is walked from its real path: join() and resolve() fold `link/..` to the
 * link's own directory, where the kernel goes to the link target's parent. `.` is named as the directory it
 * is (`send -r .` in ~/proj sends `proj`): it is no path component. Any other name stays as typed (`send -r
 * ~/photos-link` sends `photos-link`, as scp does). Throws as realpath(3) does (ENOENT...).
 */
export function localTopOf(root: string): LocalTop {
  // realpath(3) itself: realpathSync's JS version resolve()s the text first, folding `link/..` again.
  const start = root.split('/').includes('..') ? realpathSync.native(root) : root;
  const typed = basename(start.replace(/\/+$/, ''));
  const name = typed === '.' || typed === '' ? basename(realpathSync.native(start)) : typed;
  // `/` has no name of its own: its entries go under `root`.
  return { start, name: name || 'root' };
}
