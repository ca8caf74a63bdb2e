import { lstat, readlink } from 'node:fs/promises';
import {
  assertDirUnmoved,
  clearForReplacement,
  linkVerdictOnDisk,
  makeReceivedDirectory,
  placeLink,
  receivedDirectoryMode,
  resolveUnderRoot,
  setDirectoryAttributes,
} from '../transfer/index.js';
import { skipLink } from './get-plan.js';
import { onThisMachine } from './on-this-machine.js';
import type { TransferEvent } from './transfer-events.js';
import type { GetPlan } from './download-plan.js';
import type { GetFilesOptions } from './get-files.js';

/** Creates links and empty directories, then gives directories their mode and mtime, deepest first. */
export async function finishTree(
  plan: GetPlan,
  localDir: string,
  options: Pick<GetFilesOptions, 'overwrite' | 'beforeTreeWrite'>,
  emit: (event: TransferEvent) => void,
): Promise<void> {
  // A local failure names the entry under the destination the user named, as a file's failure does.
  const here = <T>(local: readonly string[], step: () => Promise<T>): Promise<T> =>
    step().catch((err: unknown) => {
      throw onThisMachine(err, { root: localDir, local });
    });
  // The server's checks of a tree write (PUT_DIR, PUT_LINK), as DST may be a folder others can write: each
  // act by name re-checks its directory's real path right before (missing parents too), and attributes are
  // set through a descriptor whose kernel path is checked. `hook` is a test's seam between check and act.
  const hook = options.beforeTreeWrite;
  const beforeMkdir = hook && ((dir: string) => hook(dir, 'creating'));
  for (const dir of plan.dirs) {
    await here(dir.local, async () => {
      const target = await resolveUnderRoot(localDir, dir.local, {
        createDirs: true,
        allowDirectory: true,
        beforeMkdir,
      });
      await hook?.(target.path, 'walked');
      await assertDirUnmoved(target.dir);
      await makeReceivedDirectory(target.path);
    });
  }
  for (const link of plan.links) {
    const target = await here(link.local, () =>
      resolveUnderRoot(localDir, link.local, {
        createDirs: true,
        allowLink: true,
        allowDirectory: link.replaces === 'dir',
        beforeMkdir,
      }),
    );
    const existing = await lstat(target.path).catch(() => undefined);
    if (existing && !existing.isSymbolicLink() && link.replaces === undefined) {
      emit({ type: 'entry-skipped', path: link.local.join('/'), reason: 'a file is in the way of the link' });
      continue;
    }
    if (existing && !options.overwrite) {
      if ((await readlink(target.path)) !== link.target)
        emit({ type: 'entry-skipped', path: link.local.join('/'), reason: 'exists' });
      continue;
    }
    // Checked again against the destination as it is now: links already there (an earlier download, a
    // local user) are followed too, so this link cannot be the last step of a chain out of the tree.
    if ((await linkVerdictOnDisk(localDir, link.local, link.target, link.rootDepth)).verdict !== 'inside') {
      skipLink(emit, link.local);
      continue;
    }
    // A file in the way that sync replaces goes by the rename itself; a directory just before it.
    await here(link.local, async () => {
      await hook?.(target.path, 'walked');
      await assertDirUnmoved(target.dir);
      if (existing && link.replaces)
        await clearForReplacement(target, link.replaces, {
          notUtf8: link.replacesNotUtf8,
          beforeRead: hook && ((d) => hook(d, 'clearing')),
        });
      await placeLink(target, link.target, link.mtimeMs, { replace: existing !== undefined });
    });
  }
  const deepestFirst = [...plan.dirs].sort((a, b) => b.local.length - a.local.length);
  for (const dir of deepestFirst) {
    await here(dir.local, async () => {
      const target = await resolveUnderRoot(localDir, dir.local, { createDirs: false, allowDirectory: true });
      await hook?.(target.path, 'made');
      await setDirectoryAttributes(target.path, receivedDirectoryMode(dir.mode), dir.mtimeMs, {
        rooted: true,
      });
    });
  }
}
