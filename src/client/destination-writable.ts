import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import type { GetPlan } from './download-plan.js';

/**
 * Refuses, once and before any file starts, a get whose destination directory cannot be written while the
 * plan has something new to create in it: every file of the run would fail alike, and scp and rsync say so
 * once (`scp: DIR/tree: Permission denied`), not once per file. Entries that exist already are left to their
 * own transfer: an identical file needs no write, and a replaced one fails on its own.
 */
export async function assertDestinationWritable(localDir: string, plan: GetPlan): Promise<void> {
  const refusal = await access(localDir, constants.W_OK | constants.X_OK).then(
    () => undefined,
    (err: unknown) => toFerryError(err),
  );
  if (refusal === undefined || refusal.code !== 'IO_ERROR') return;
  const tops = new Set<string>();
  // A file the server's listing refused fails with the server's reason (PATH_NOT_FOUND...), not with ours.
  const files = plan.files.filter((job) => job.refused === undefined);
  for (const entry of [...files, ...plan.links, ...plan.dirs])
    if (entry.local[0] !== undefined) tops.add(entry.local[0]);
  for (const top of tops) {
    const path = join(localDir, top);
    if (
      await lstat(path).then(
        () => true,
        () => false,
      )
    )
      continue;
    throw new FerryError(refusal.code, `${refusal.detail}: cannot create files in ${localDir}`, {
      cause: refusal,
      subject: path,
    });
  }
}
