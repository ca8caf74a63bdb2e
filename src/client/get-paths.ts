import { basename, dirname, resolve } from 'node:path';
import { resolveDestination } from './destination.js';
import { LOCAL_DESTINATION } from './destination-sides.js';
import type { DownloadResult } from './download-file.js';
import { getFiles, type GetFilesOptions } from './get-files.js';
import { refuseSameNameGets } from './distinct-source-names.js';

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
  if (options.remotePaths.length > 1) refuseSameNameGets(options.server, options.remotePaths);
  const destination = await resolveDestination(
    { path: resolve(localPath), directory: localIsDirectory, sources: options.remotePaths.length, mkdir },
    LOCAL_DESTINATION,
  );
  // The directory as the caller wrote it (`x/`, `.`): events name each file under it (`x/a.txt`), as
  // `sendPaths` names its sources; getFiles resolves it the same way, from the same working directory.
  const placement =
    destination.kind === 'into'
      ? { localDir: localPath }
      : { localDir: dirname(localPath), localName: basename(destination.path) };
  return getFiles({ ...rest, ...placement, createLocalDir: mkdir });
}
