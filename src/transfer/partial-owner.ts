import { lstat } from 'node:fs/promises';
import { ChunkLog } from './chunk-log.js';
import type { PartialPaths } from './file-partial-store.js';
import { writableOnlyByUs } from './writable-only-by-us.js';

/**
 * Whose partial sits at `paths`, for a client whose partials live among the user's own files
 * (`.NAME.ferry-part` beside `.NAME.ferry-state`): `none` when neither exists; `ferry` when the state file
 * is ferry's (`ChunkLog.identify`) and the data file is absent or a regular file; `foreign` otherwise: a
 * state file that is not ferry's, a link or special file at either name, a data file with no state beside
 * it, or either file owned by another user or writable by others (`writableOnlyByUs`). Ferry writes the state before it makes the data file (`FilePartialStore.open`), so a data file
 * of its own always has one. Only a `ferry` partial may be reused, truncated or removed (SECURITY.md,
 * "Partials ferry did not make").
 */
export async function partialOwner(paths: PartialPaths): Promise<'none' | 'ferry' | 'foreign'> {
  return (await partialOwnership(paths)).owner;
}

/** {@link partialOwner}'s answer, with the file ferry did not make when it is `foreign`. */
export type PartialOwnership = { owner: 'none' | 'ferry' } | { owner: 'foreign'; inTheWay: string };

/**
 * As {@link partialOwner}, and which of the two names holds what ferry did not make (the state file when
 * both do), so a user can be told what to remove: `--overwrite` never replaces it.
 */
export async function partialOwnership(paths: PartialPaths): Promise<PartialOwnership> {
  const state = await ChunkLog.identify(paths.logPath);
  if (state === 'foreign' || state === 'other') return { owner: 'foreign', inTheWay: paths.logPath };
  let dataKind: 'absent' | 'file' | 'other';
  try {
    const stats = await lstat(paths.dataPath);
    // A data file another user may write is not ours to resume, whatever state file is beside it.
    dataKind = stats.isFile() && writableOnlyByUs(stats) ? 'file' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    dataKind = 'absent';
  }
  if (dataKind === 'other') return { owner: 'foreign', inTheWay: paths.dataPath };
  if (state === 'absent')
    return dataKind === 'absent' ? { owner: 'none' } : { owner: 'foreign', inTheWay: paths.dataPath };
  return { owner: 'ferry' };
}
