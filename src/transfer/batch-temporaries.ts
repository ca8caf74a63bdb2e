import { lstat, readdir, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writableOnlyByUs } from './writable-only-by-us.js';

/**
 * A batch's temporary lives from its data's arrival to the batch's end: seconds on any live session (a
 * PUT_BATCH record to its BATCH_END on the server, PROTOCOL.md §5.14; a GET_BATCH_DATA record to the whole
 * answer on the client, §5.20). A process that ends on its own removes its own; only one killed outright
 * leaves some behind, and one older than this is such a leftover. One age for both sides: a live writer's
 * temporary is never this old, so no lock or pid is needed, and none that a crash could leave stale.
 */
export const BATCH_TEMPORARY_MAX_AGE_MS = 60 * 60 * 1000;

/** How the server's temporaries start, in its own partial directory (`batch-<16 hex>-<index>`). */
export const SERVER_BATCH_TEMP_PREFIX = 'batch-';
/** How a client's start, hidden beside the user's files they become (`.ferry-batch-<16 hex>-<index>`). */
export const CLIENT_BATCH_TEMP_PREFIX = '.ferry-batch-';

/** The names stageSmallFiles gives temporaries: `prefix`, 16 hex digits of its batch, `-`, the entry index. */
const BATCH_TEMPORARY = /^(batch-|\.ferry-batch-)[0-9a-f]{16}-\d+$/;

/** Whether `name` is a batch temporary's, of either side: nothing else is ever swept. */
export function isBatchTemporary(name: string): boolean {
  return BATCH_TEMPORARY.test(name);
}

/**
 * Removes the batch temporaries with names of `prefix` in `dir` older than `maxAgeMs` (the partial sweeper's
 * sibling: they are not partials, they have no state file): the server's in its partial directory, a
 * client's in a directory it receives a batch into. Age counts from the ctime, which staging sets when it
 * writes the file; the mtime is the sent file's own and may be years old. Only that exact name pattern,
 * only regular files of this user's (`writableOnlyByUs`): names are lstat'ed and unlinked, never followed. With `real` (a directory under a
 * client's destination, which others may write to), `dir` is skipped when its real path is no longer
 * itself: a directory swapped for a link since its caller resolved it. `names`: the names of `dir` its
 * caller already read (`ferry sync` down walks its whole destination, so a leftover in a directory no later
 * batch writes into is swept too), each still checked here as if read now. Returns how many were removed.
 */
export async function sweepBatchTemporaries(
  dir: string,
  options: { prefix: string; maxAgeMs: number; now: number; real?: boolean; names?: readonly string[] },
): Promise<number> {
  if (options.real && (await realpath(dir)) !== dir) return 0;
  let removed = 0;
  for (const name of options.names ?? (await readdir(dir))) {
    if (!name.startsWith(options.prefix) || !isBatchTemporary(name)) continue;
    const path = join(dir, name);
    const stats = await lstat(path).catch(() => undefined);
    // Another user's file of that name (a shared folder) is theirs to remove, whatever its age.
    if (!stats?.isFile() || !writableOnlyByUs(stats) || options.now - stats.ctimeMs < options.maxAgeMs)
      continue;
    await unlink(path).catch(() => undefined);
    removed++;
  }
  return removed;
}
