import { closeSync, constants as fsConstants, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { FerryError } from '../errors/index.js';

const APPEND_FLAGS =
  fsConstants.O_WRONLY |
  fsConstants.O_APPEND |
  fsConstants.O_CREAT |
  // Not on Windows, which has no symbolic links a user plants this way.
  (fsConstants.O_NOFOLLOW ?? 0) |
  // A fifo planted at the name fails at once (ENXIO) instead of blocking the command.
  (fsConstants.O_NONBLOCK ?? 0);

/**
 * Opens `--log-file PATH` for appending (created 0600, its missing parents 0700) and returns the descriptor,
 * refusing (USAGE_INVALID) a symbolic link at the name, anything but a regular file, and a file another user
 * than this one or root owns. A log line carries names another party chose (a server's listing, a client's
 * upload) and a shell reads `"$(...)"` in one as a command: followed, a link a local user planted where the
 * log goes
 * (`ferry.log -> ~/.bashrc`, in a directory others may write and that is not sticky, where the kernel's
 * protected_symlinks does not apply) made ferry append those names to a file its user's shell runs. A file
 * another user owns is theirs to read and to swap: ferry's records are its user's alone. A link above the
 * name is the user's own choice, as for every path the user gives.
 */
export function openLogFile(path: string): number {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, APPEND_FLAGS, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new FerryError('USAGE_INVALID', `--log-file ${path} is a symbolic link; name the file itself`, {
        cause: err,
      });
    throw err;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FerryError('USAGE_INVALID', `--log-file ${path} is not a regular file`);
    const euid = process.geteuid?.();
    // Root's is fine, as for the home's files (owned-by-us.ts): an operator's or logrotate's
    // `create 0660 root ferry` makes one, and no local user can plant a file root owns.
    if (euid !== undefined && stats.uid !== euid && stats.uid !== 0)
      throw new FerryError(
        'USAGE_INVALID',
        `--log-file ${path} is owned by uid ${stats.uid}, not by you (uid ${euid}) or root: its owner could ` +
          `read or replace what ferry logs; name a file of your own`,
      );
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
