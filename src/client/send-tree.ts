import { FerryError } from '../errors/index.js';
import { joinRemotePath } from '../protocol/index.js';
import { walkLocalTree, type LocalTree, type OnSkip } from '../transfer/index.js';
import type { Destination } from './destination.js';
import { UnsentNames } from './unsent-names.js';
import { runUploadJobs, type JobResult, type SendFilesOptions, type UploadJob } from './send-files.js';

export interface SendTreeOptions extends Omit<SendFilesOptions, 'files'> {
  /** Local directories; each arrives as `remoteDir/<its base name>/...`. */
  dirs: readonly string[];
  /** Told about every local entry left out, with its kind (as sendPaths' `onSkip`). */
  onSkip?: OnSkip;
}

/**
 * Uploads directory trees as manifests of entries (PROTOCOL.md §5.10): files first (pipelined, resumable;
 * files already identical on the server are skipped), then links that stay inside the tree, then every
 * directory deepest first, which creates empty ones and gives each its mode and mtime. A file whose name the
 * wire cannot carry rejects the run once the rest went (UnsentNamesError), as in sendPaths.
 */
export async function sendTree(options: SendTreeOptions): Promise<JobResult[]> {
  if (options.dirs.length === 0) throw new FerryError('USAGE_INVALID', 'no directories to send');
  const unsent = new UnsentNames(options.onSkip);
  const jobs = await treeJobs(options.dirs, { kind: 'into', dir: options.remoteDir ?? '' }, unsent.onSkip);
  const results = await runUploadJobs(jobs, { ...options, files: [] });
  return unsent.settleJobs(results);
}

/**
 * The jobs that send the trees `dirs` to `destination`: inside a directory each tree keeps its base name,
 * as `scp -r` does; `as` gives the one tree the destination's name instead. `walk` walks one tree
 * (walkLocalTree by default; sendPaths passes the walks it started before connecting).
 */
export async function treeJobs(
  dirs: readonly string[],
  destination: Destination,
  onSkip: OnSkip,
  walk: (dir: string) => Promise<LocalTree> = (dir) => walkLocalTree(dir, onSkip),
): Promise<UploadJob[]> {
  const jobs: UploadJob[] = [];
  const dirJobs: UploadJob[] = [];
  const linkJobs: UploadJob[] = [];
  for (const dir of dirs) {
    const tree = await walk(dir);
    // Every relative path starts with the tree's top name (local-tree.ts): it is what `as` replaces.
    const top = tree.dirs[tree.dirs.length - 1]!.relative;
    const place = (relative: string): string =>
      destination.kind === 'into'
        ? joinRemotePath(destination.dir, relative)
        : `${destination.path}${relative.slice(top.length)}`;
    for (const file of tree.files)
      jobs.push({
        kind: 'file',
        localPath: file.localPath,
        remotePath: place(file.relative),
        size: file.size,
        walked: file.walked,
      });
    for (const link of tree.links)
      linkJobs.push({
        kind: 'link',
        remotePath: place(link.relative),
        target: link.target,
        mtimeMs: link.mtimeMs,
      });
    for (const d of tree.dirs)
      dirJobs.push({ kind: 'dir', remotePath: place(d.relative), mode: d.mode, mtimeMs: d.mtimeMs });
  }
  return [...jobs, ...linkJobs, ...dirJobs];
}
