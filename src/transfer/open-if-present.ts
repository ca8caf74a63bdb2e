import type { FileHandle } from 'node:fs/promises';
import { openNoFollow } from './open-no-follow.js';
import { refuseUnlessOurs } from './writable-only-by-us.js';

/**
 * Opens an existing file of a partial to resume it (its data file, or its log to append to), without
 * following a link and only if it is ours; undefined when it is gone.
 */
export async function openIfPresent(path: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await openNoFollow(path, 'update');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // Checked through the handle resumed: a file swapped in after `partialOwner` is refused too.
    refuseUnlessOurs(await handle.stat(), path);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}
