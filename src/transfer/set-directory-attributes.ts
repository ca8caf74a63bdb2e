import { fsTimeOf } from './fs-names.js';
import { openNoFollow } from './open-no-follow.js';

/**
 * Gives the directory at `path` its permission bits and mtime through an open descriptor (fchmod,
 * futimens): chmod(2) and utimes(2) by name follow a link, so a directory swapped for a link after it was
 * checked would hand its mode to whatever the link points at. The directory is opened O_NOFOLLOW.
 */
export async function setDirectoryAttributes(path: string, mode: number, mtimeMs: number): Promise<void> {
  const handle = await openNoFollow(path, 'directory');
  try {
    await handle.chmod(mode);
    await handle.utimes(fsTimeOf(mtimeMs), fsTimeOf(mtimeMs));
  } finally {
    await handle.close();
  }
}
