import { lstat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FerryError } from '../errors/index.js';
import { joinRemotePath, parseRemotePath } from '../protocol/index.js';
import { walkLocalTree, type OnSkip } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { resolveDestination } from './destination.js';
import { remoteDestination } from './destination-sides.js';
import { runUploadJobs, type JobResult, type SendFilesOptions, type UploadJob } from './send-files.js';
import { treeJobs } from './send-tree.js';
import { failingAfter } from './after-background.js';
import { UnsentNames } from './unsent-names.js';
import { ExcludePatterns } from './sync-exclude.js';
import { refuseSameNameSends } from './distinct-source-names.js';

export interface SendPathsOptions extends Omit<SendFilesOptions, 'files' | 'remoteDir'> {
  /** Local files, and with `recursive` directories (sent as trees, PROTOCOL.md §5.10). */
  paths: readonly string[];
  /**
   * Where they go ('/'-separated, relative to the client's root on the server; '' for the root), placed as
   * scp places them: an existing directory receives them under their own names, otherwise the one source
   * is stored under this name.
   */
  remotePath: string;
  /** The destination must be a directory (the user wrote a trailing `/`). */
  remoteIsDirectory?: boolean;
  /** Send directories as trees; without it a directory is refused (USAGE_INVALID) before connecting. */
  recursive?: boolean;
  /** Create missing remote directories instead of refusing them (PATH_NOT_FOUND naming the missing one). */
  mkdir?: boolean;
  /**
   * With `recursive`: patterns of the entries of each tree to leave out, relative to the tree's top, as
   * `syncTree`'s `exclude` (an excluded directory is not read); files named in `paths` are always sent.
   */
  exclude?: readonly string[];
  /**
   * Told about every local entry of a tree left out, with its kind (links leading outside it, special files,
   * names the wire cannot carry: those make the run reject, {@link UnsentNamesError}).
   */
  onSkip?: OnSkip;
}

/**
 * Uploads files and trees the way `ferry send` (and scp) does. Every source is checked on this machine and
 * the remote path against PROTOCOL.md §7.1 before a connection is made; where they land is decided on the
 * first session (LIST SELF_ONLY, §5.12), once, and then every file, link and directory goes as in
 * {@link runUploadJobs}: pipelined, resumed after a retryable failure, one refused file not stopping the
 * others. Resolves once the server verified and stored all of them; a tree's file whose name the wire cannot
 * carry (PROTOCOL.md §7.1) is told to `onSkip` and, once the rest went, rejects the run (UnsentNamesError).
 */
export async function sendPaths(options: SendPathsOptions): Promise<JobResult[]> {
  const { paths, remotePath } = options;
  if (paths.length === 0) throw new FerryError('USAGE_INVALID', 'nothing to send');
  if (remotePath !== '') parseRemotePath(remotePath);
  if (paths.length > 1) refuseSameNameSends(paths);
  const kinds = await sourceKinds(paths, options.recursive ?? false);
  const dirs = paths.filter((_, i) => kinds[i] === 'dir');
  const unsent = new UnsentNames(options.onSkip);
  const { onSkip } = unsent;
  // The trees are walked beside the connection and the handshake, which need nothing from them (issue 14:
  // a 1000-file tree's lstats were ~20-60 ms after the handshake); a failure surfaces where it did, once
  // the destination is known.
  const { walkOptions } = new ExcludePatterns(options.exclude ?? []);
  const walks = new Map(dirs.map((dir) => [dir, walkLocalTree(dir, onSkip, walkOptions)] as const));
  for (const walk of walks.values()) walk.catch(() => undefined);
  const plan = async (session: ClientSession): Promise<UploadJob[]> => {
    const destination = await resolveDestination(
      {
        path: remotePath,
        directory: options.remoteIsDirectory ?? false,
        sources: paths.length,
        mkdir: options.mkdir ?? false,
      },
      remoteDestination(session),
    );
    const files: UploadJob[] = paths
      .filter((_, i) => kinds[i] === 'file')
      .map((localPath) => ({
        kind: 'file',
        localPath,
        remotePath:
          destination.kind === 'as' ? destination.path : joinRemotePath(destination.dir, basename(localPath)),
      }));
    return [...files, ...(await treeJobs(dirs, destination, onSkip, (dir) => walks.get(dir)!))];
  };
  const results = await failingAfter(runUploadJobs(plan, { ...options, files: paths }), walks.values());
  return unsent.settleJobs(results);
}

/**
 * Checks every source before connecting: it must exist on this machine, and a directory needs `recursive`
 * (`-r`, as with scp), so neither mistake costs a connection or surfaces as a bare errno.
 */
async function sourceKinds(paths: readonly string[], recursive: boolean): Promise<Array<'file' | 'dir'>> {
  return Promise.all(
    paths.map(async (path) => {
      const stats = await lstat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          throw new FerryError('PATH_NOT_FOUND', 'nothing to send there on this machine', { subject: path });
        throw err;
      });
      if (stats.isDirectory()) {
        if (!recursive)
          throw new FerryError('USAGE_INVALID', 'is a directory', {
            subject: path,
            hint: 'add -r to send it as a tree',
          });
        return 'dir';
      }
      return 'file';
    }),
  );
}
