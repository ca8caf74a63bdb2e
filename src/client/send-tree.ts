import { FerryError } from '../errors/index.js';
import { joinRemotePath } from '../protocol/index.js';
import { walkLocalTree } from '../transfer/index.js';
import { runUploadJobs, type JobResult, type SendFilesOptions, type UploadJob } from './send-files.js';

export interface SendTreeOptions extends Omit<SendFilesOptions, 'files'> {
  /** Local directories; each arrives as `remoteDir/<its base name>/...`. */
  dirs: readonly string[];
  /** Told about every local entry left out (links leading outside the tree, special files). */
  onSkip?: (relative: string, reason: string) => void;
}

/**
 * Uploads directory trees as manifests of entries (PROTOCOL.md §5.10): files first (pipelined, resumable;
 * files already identical on the server are skipped), then links that stay inside the tree, then every
 * directory deepest first, which creates empty ones and gives each its mode and mtime.
 */
export async function sendTree(options: SendTreeOptions): Promise<JobResult[]> {
  if (options.dirs.length === 0) throw new FerryError('USAGE_INVALID', 'no directories to send');
  const jobs: UploadJob[] = [];
  const dirJobs: UploadJob[] = [];
  const linkJobs: UploadJob[] = [];
  const base = options.remoteDir ?? '';
  for (const dir of options.dirs) {
    const tree = await walkLocalTree(dir, options.onSkip ?? (() => undefined));
    for (const file of tree.files)
      jobs.push({
        kind: 'file',
        localPath: file.localPath,
        remotePath: joinRemotePath(base, file.relative),
        size: file.size,
      });
    for (const link of tree.links) {
      linkJobs.push({
        kind: 'link',
        remotePath: joinRemotePath(base, link.relative),
        target: link.target,
        mtimeMs: link.mtimeMs,
      });
    }
    for (const d of tree.dirs)
      dirJobs.push({
        kind: 'dir',
        remotePath: joinRemotePath(base, d.relative),
        mode: d.mode,
        mtimeMs: d.mtimeMs,
      });
  }
  return runUploadJobs([...jobs, ...linkJobs, ...dirJobs], { ...options, files: [] });
}
