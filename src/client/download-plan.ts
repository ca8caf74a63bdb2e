import type { FerryError } from '../errors/index.js';
import type { TransferEvent } from './transfer-events.js';

/** One download as planned from the request and the server's listing. */
export interface FileJob {
  remotePath: string;
  /** Components under the local directory, already validated. */
  local: string[];
  /** As the server listed it, for the `planned` event; 0 when the listing refused it. */
  size?: number;
  /** The listing of this source was refused on its own: it fails with this error when its turn comes. */
  refused?: FerryError;
  /**
   * Named without -r, the listing of its size found a directory (get-plan.ts): a local directory in the way
   * of it then says "add -r", not only the local "is a directory (eisdir)".
   */
  listedAsDirectory?: boolean;
  /** `ferry sync`: the local entry of another kind this file replaces once it is ready (RootPath.replaces). */
  replaces?: 'link' | 'dir';
  /** With `replaces: 'dir'`: names that are not UTF-8 below it go too (RootPath.replacesNotUtf8). */
  replacesNotUtf8?: true;
}

/** The whole plan: files to fetch, then links to make, then directories to finish (deepest first). */
export interface GetPlan {
  files: FileJob[];
  dirs: Array<{ local: string[]; mode: number; mtimeMs: number }>;
  /**
   * `rootDepth`: how many components of `local` name the downloaded tree a link must stay inside. `replaces`
   * (`ferry sync`): the local entry of another kind the link replaces when it is placed.
   */
  links: Array<{
    local: string[];
    target: string;
    mtimeMs: number;
    rootDepth: number;
    replaces?: 'file' | 'dir';
    /** As a file's (FileJob.replacesNotUtf8). */
    replacesNotUtf8?: true;
  }>;
}

/** The `planned` event: how many files and bytes the get means to fetch. */
export function plannedOf(plan: GetPlan): TransferEvent {
  const bytes = plan.files.reduce((total, job) => total + (job.size ?? 0), 0);
  return { type: 'planned', files: plan.files.length, bytes };
}
