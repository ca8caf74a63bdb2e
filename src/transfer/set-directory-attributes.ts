import { fsTimeOf } from './fs-names.js';
import { openNoFollow } from './open-no-follow.js';
import { assertOpenedAt } from './opened-at.js';

/**
 * Gives the directory at `path` its permission bits and mtime through an open descriptor (fchmod,
 * futimens): chmod(2) and utimes(2) by name follow a link, so a directory swapped for a link after it was
 * checked would hand its mode to whatever the link points at. The directory is opened O_NOFOLLOW, which
 * guards its own name only: with `rooted` (a server's PUT_DIR; `path` canonical, a real root joined with
 * checked names) the kernel's path of the opened directory must be `path` too (`assertOpenedAt`), or a
 * directory above it swapped for a link since the walk is refused (PATH_ESCAPES_ROOT) before any change.
 */
export async function setDirectoryAttributes(
  path: string,
  mode: number,
  mtimeMs: number,
  options: { rooted?: boolean } = {},
): Promise<void> {
  const handle = await openNoFollow(path, 'directory');
  try {
    if (options.rooted === true) assertOpenedAt(handle.fd, path);
    await handle.chmod(mode);
    await handle.utimes(fsTimeOf(mtimeMs), fsTimeOf(mtimeMs));
  } finally {
    await handle.close();
  }
}
