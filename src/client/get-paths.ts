import { basename, dirname, resolve } from 'node:path';
import { resolveDestination } from './destination.js';
import { LOCAL_DESTINATION } from './destination-sides.js';
import type { DownloadResult } from './download-file.js';
import { getFiles, type GetFilesOptions } from './get-files.js';

export interface GetPathsOptions extends Omit<GetFilesOptions, 'localDir' | 'localName' | 'createLocalDir'> {
  /**
   * Where they land on this machine, placed as scp places them: an existing directory receives them under
   * their own names, otherwise the one source is stored under this name. Relative to the working directory.
   */
  localPath: string;
  /** The destination must be a directory (the user wrote a trailing `/`). */
  localIsDirectory?: boolean;
  /** Create missing local directories instead of refusing them (PATH_NOT_FOUND naming the missing one). */
  mkdir?: boolean;
}

/**
 * Downloads files and trees the way `ferry get` (and scp) does: where they land is decided on this machine
 * before a connection is made (the placement rule `ferry send` applies on the server's side), then
 * everything goes as in {@link getFiles}.
 */
export async function getPaths(options: GetPathsOptions): Promise<DownloadResult[]> {
  const { localPath, localIsDirectory = false, mkdir = false, ...rest } = options;
  const destination = await resolveDestination(
    { path: resolve(localPath), directory: localIsDirectory, sources: options.remotePaths.length, mkdir },
    LOCAL_DESTINATION,
  );
  const placement =
    destination.kind === 'into'
      ? { localDir: destination.dir }
      : { localDir: dirname(destination.path), localName: basename(destination.path) };
  return getFiles({ ...rest, ...placement, createLocalDir: mkdir });
}
