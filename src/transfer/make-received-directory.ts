import { lstat, mkdir } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { RECEIVED_MODE_LIMIT } from './received-mode.js';

/**
 * Makes the directory at `path` for a receiver unless one is there (PROTOCOL.md §5.10): the server for a
 * PUT_DIR, the client for a directory a listing names. Made no more open than RECEIVED_MODE_LIMIT (the umask
 * applies too) until the caller gives it its received mode, so no other local user can write into it
 * meanwhile whatever the umask. A link in the way is refused (PATH_ESCAPES_ROOT: it was made after the path
 * was resolved), a file FILE_EXISTS; the caller resolved `path` under its root without following links.
 * Resolves with whether it made the directory: only then has its parent a new entry to make durable.
 */
export async function makeReceivedDirectory(path: string): Promise<boolean> {
  let made = true;
  try {
    await mkdir(path, { mode: RECEIVED_MODE_LIMIT });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    made = false;
  }
  const stats = await lstat(path);
  if (stats.isSymbolicLink()) throw new FerryError('PATH_ESCAPES_ROOT', 'destination is a symbolic link');
  if (!stats.isDirectory()) throw new FerryError('FILE_EXISTS', 'a file is in the way of the directory');
  return made;
}
