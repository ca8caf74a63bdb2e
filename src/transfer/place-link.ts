import { lutimes, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsTimeOf, siblingTempName } from './fs-names.js';
import type { RootPath } from './root-path.js';

/**
 * Makes `target` a symbolic link to `linkTarget` with mtime `mtimeMs`: created under a hidden temporary
 * name beside it and renamed into place, so an existing link is replaced atomically and a reader never
 * sees a half-made one. The caller has checked that `linkTarget` stays inside its root.
 */
export async function placeLink(target: RootPath, linkTarget: string, mtimeMs: number): Promise<void> {
  const temp = join(target.dir, siblingTempName(target.name, 'ferry-link'));
  await rm(temp, { force: true });
  await symlink(linkTarget, temp);
  await lutimes(temp, fsTimeOf(mtimeMs), fsTimeOf(mtimeMs));
  await rename(temp, target.path);
}
