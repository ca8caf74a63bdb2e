import { open } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { FerryError } from '../errors/index.js';
import { refuseUnlessHomeDirOurs, refuseUnlessOwnedByUs } from './owned-by-us.js';

/** Config files (allow-list, known servers) are small; a bigger one is a mistake, not something to parse. */
export const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;

/**
 * What identifies one version of a file without reading it. The inode is part of it because every atomic
 * write renames a new inode into place, which catches two writes within one mtime tick with equal sizes;
 * ctime catches in-place edits that reset mtime.
 */
export interface FileStamp {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** The result of {@link readConfigFile}. */
export type ConfigFileRead =
  | { readonly status: 'missing' }
  | { readonly status: 'unchanged'; readonly stamp: FileStamp }
  | { readonly status: 'read'; readonly stamp: FileStamp; readonly json: unknown };

/** Options for {@link readConfigFile}. */
export interface ReadConfigFileOptions {
  /** When the file still has this stamp, it is not read again and the result is `unchanged`. */
  unlessStamp?: FileStamp | undefined;
  signal?: AbortSignal;
}

/**
 * Reads a JSON config file that decides who is trusted. Like OpenSSH's StrictModes for authorized_keys, a
 * file that group or others may write is refused (CONFIG_INVALID): whoever can edit it could trust
 * themselves; so is one another user owns, or in a directory not the user's own (HOME_UNSAFE). The stat and
 * the read use one handle, so the stamp always describes the bytes that were read.
 */
export async function readConfigFile(
  path: string,
  options: ReadConfigFileOptions = {},
): Promise<ConfigFileRead> {
  const { unlessStamp, signal } = options;
  signal?.throwIfAborted();
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw err;
  }
  try {
    const stats = await handle.stat({ bigint: true });
    if (!stats.isFile()) throw new FerryError('CONFIG_INVALID', `${path} is not a regular file`);
    if (process.platform !== 'win32' && (stats.mode & 0o022n) !== 0n) {
      throw new FerryError(
        'CONFIG_INVALID',
        `${path} is writable by group or others (mode ${formatMode(stats.mode)}); run \`chmod 600 ${path}\``,
      );
    }
    refuseUnlessOwnedByUs(stats, path);
    await refuseUnlessHomeDirOurs(path);
    const stamp = stampOf(stats);
    if (unlessStamp !== undefined && sameStamp(stamp, unlessStamp)) return { status: 'unchanged', stamp };
    if (stats.size > BigInt(MAX_CONFIG_FILE_BYTES)) {
      throw new FerryError(
        'CONFIG_INVALID',
        `${path} is ${stats.size} bytes, more than ${MAX_CONFIG_FILE_BYTES}`,
      );
    }
    const text = await handle.readFile({ encoding: 'utf8', signal });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new FerryError('CONFIG_INVALID', `${path} is not valid JSON (${(err as Error).message})`, {
        cause: err,
      });
    }
    return { status: 'read', stamp, json };
  } finally {
    await handle.close();
  }
}

/** True when two stamps describe the same version of a file. */
export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

function stampOf(stats: BigIntStats): FileStamp {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs };
}

function formatMode(mode: bigint): string {
  return `0${(mode & 0o777n).toString(8)}`;
}
