import type { FileHandle } from 'node:fs/promises';
import { openNoFollow } from './open-no-follow.js';
import { refuseUnlessOurs } from './writable-only-by-us.js';

/** Opens an existing data file to resume it; undefined when it is gone. */
export async function openIfPresent(path: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await openNoFollow(path, 'update');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // Checked through the handle resumed: a data file swapped in after `partialOwner` is refused too.
    refuseUnlessOurs(await handle.stat(), path);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}
