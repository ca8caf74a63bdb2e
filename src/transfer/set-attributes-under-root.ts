import type { FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { assertDirUnmoved } from './dir-unmoved.js';
import { fsTimeOf } from './fs-names.js';
import { openNoFollow } from './open-no-follow.js';
import { assertOpenedAt } from './opened-at.js';
import { receivedFileMode } from './received-mode.js';
import { resolveUnderRoot } from './root-path.js';

/**
 * Gives the existing regular file that validated components name under `root` (a real path) the mode a
 * received file gets (`receivedFileMode`: at most 0o755, never setuid, setgid or sticky) and the mtime
 * `mtimeMs`, without touching its content (PROTOCOL.md §5.19, §7.1). The rules are `removeUnderRoot`'s: every
 * directory above it is `lstat`ed by `resolveUnderRoot` (a link there is PATH_ESCAPES_ROOT), the parent's
 * real path is checked again right before the change, and the file itself is opened O_NOFOLLOW, at the path
 * walked (`assertOpenedAt`), and changed through the descriptor (fchmod, futimens): chmod(2) and utimes(2) by
 * name follow a link swapped in after the check. `beforeOpen` is a test's seam (the server's
 * `beforeTreeWrite`): it runs between the re-check and the open. A missing file is PATH_NOT_FOUND; a
 * directory, link or anything else is refused, nothing changed. Returns whether anything changed (false when
 * the file had that mode and mtime already).
 * The one rule of both sides: the server's SET_ATTRIBUTES and `ferry sync` downloading onto this machine.
 */
export async function setAttributesUnderRoot(
  root: string,
  components: readonly string[],
  attributes: { mode: number; mtimeMs: number },
  options: { beforeOpen?: ((path: string) => Promise<void>) | undefined } = {},
): Promise<boolean> {
  const target = await resolveUnderRoot(root, components, { createDirs: false });
  if (!target.exists) throw new FerryError('PATH_NOT_FOUND', 'no file there');
  await assertDirUnmoved(target.dir);
  await options.beforeOpen?.(target.path);
  const handle = await openExisting(target.path);
  try {
    // The open by name follows a directory above swapped for a link since the re-check: the kernel's path of
    // what it opened must be the walked one, or nothing is changed (PATH_ESCAPES_ROOT).
    assertOpenedAt(handle.fd, target.path);
    const mode = receivedFileMode(attributes.mode);
    // The access time is kept: only the modification time is the source's (as rsync -a and `send` do).
    const { atime, mtimeMs, mode: had } = await handle.stat();
    // Already so (to the millisecond the protocol carries): nothing to change, and nothing to report, so a
    // client repeating a no-op does not write the server's log (docs/SECURITY.md, "Findings of the stop 42
    // pass"); an honest sync's record keeps every change it made.
    if ((had & 0o7777) === mode && Math.floor(mtimeMs) === Math.floor(attributes.mtimeMs)) return false;
    await handle.chmod(mode);
    await handle.utimes(atime, fsTimeOf(attributes.mtimeMs));
    return true;
  } finally {
    await handle.close();
  }
}

/** Opens the file to change it; one its owner may not read (mode 0o200, say) is opened for writing. */
async function openExisting(path: string): Promise<FileHandle> {
  try {
    return await openNoFollow(path, 'read');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('PATH_NOT_FOUND', 'no file there');
    if (code !== 'EACCES') throw err;
  }
  try {
    return await openNoFollow(path, 'update');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES')
      throw new FerryError('PERMISSION_DENIED', 'the file cannot be opened to change its mode');
    throw err;
  }
}
