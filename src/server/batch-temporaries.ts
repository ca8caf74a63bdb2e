import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A batch entry's temporary lives from its PUT_BATCH record to its BATCH_END (PROTOCOL.md §5.14), seconds on
 * any live session; a session that ends removes its own. Only a server killed outright leaves some behind,
 * and one older than this is such a leftover.
 */
export const BATCH_TEMPORARY_MAX_AGE_MS = 60 * 60 * 1000;

/** The names placeSmallFiles and stageSmallFiles give temporaries: `batch-<16 hex>-<entry index>`. */
const BATCH_TEMPORARY = /^batch-[0-9a-f]{16}-\d+$/;

/**
 * Removes the batch temporaries in `partialDir` that a server killed mid-batch left behind (the partial
 * sweeper's sibling: those are not partials, they have no state file). Age counts from the ctime, which
 * staging sets when it writes the file; the mtime is the sent file's own and may be years old. Names are
 * lstat'ed and unlinked, never followed. Returns how many were removed.
 */
export async function sweepBatchTemporaries(
  partialDir: string,
  options: { maxAgeMs: number; now: number },
): Promise<number> {
  let removed = 0;
  for (const name of await readdir(partialDir)) {
    if (!BATCH_TEMPORARY.test(name)) continue;
    const path = join(partialDir, name);
    const stats = await lstat(path).catch(() => undefined);
    if (!stats?.isFile() || options.now - stats.ctimeMs < options.maxAgeMs) continue;
    await unlink(path).catch(() => undefined);
    removed++;
  }
  return removed;
}
