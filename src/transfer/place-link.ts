import { randomBytes } from 'node:crypto';
import { link, lutimes, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { fsTimeOf, siblingTempName } from './fs-names.js';
import type { RootPath } from './root-path.js';

/**
 * Makes `target` a symbolic link to `linkTarget` with mtime `mtimeMs`: created under a hidden temporary
 * name beside it and renamed into place, so an existing link is replaced atomically and a reader never
 * sees a half-made one. The temporary name is fresh for every call (`.NAME.<random>.ferry-link`), so a
 * file of that name that ferry did not make is never removed. With `replace` false the link is put in
 * place with link(2) on Linux, which fails when something took the name meanwhile (a file made by a
 * racing process is never replaced). The caller has checked that `linkTarget` stays inside its root and that
 * the directories above `target` are not links (`resolveUnderRoot`, `linkVerdictOnDisk`).
 */
export async function placeLink(
  target: RootPath,
  linkTarget: string,
  mtimeMs: number,
  options: { replace: boolean },
): Promise<void> {
  const temp = join(target.dir, siblingTempName(target.name, `${randomBytes(8).toString('hex')}.ferry-link`));
  await symlink(linkTarget, temp);
  try {
    await lutimes(temp, fsTimeOf(mtimeMs), fsTimeOf(mtimeMs));
    // Elsewhere link(2) may follow a link given as its source; rename is the portable way.
    if (options.replace || process.platform !== 'linux') {
      await rename(temp, target.path);
      return;
    }
    try {
      // Linux link(2) never follows a link given as its source: this names the new link itself.
      await link(temp, target.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new FerryError('FILE_EXISTS');
      throw err;
    }
  } finally {
    await rm(temp, { force: true });
  }
}
