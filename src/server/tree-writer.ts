import { lstat, readlink } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type PutDirMessage,
  type PutLinkMessage,
} from '../protocol/index.js';
import {
  assertDirUnmoved,
  clearForReplacement,
  fsyncDir,
  linkVerdictOnDisk,
  makeReceivedDirectory,
  placeLink,
  receivedDirectoryMode,
  resolveUnderRoot,
  setDirectoryAttributes,
} from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { missingParents } from './missing-parents.js';

/** PUT_DIR (PROTOCOL.md §5.10): creates the directory if missing, then sets its mode and mtime. */
export async function writeDirectory(io: SessionIo, message: PutDirMessage): Promise<void> {
  io.require(PERMISSION_UPLOAD, 'upload');
  const components = io.rooted(message.path);
  // The directory and any missing parents count against the quota and the reserve (ENTRY_BYTES each).
  const missing = await missingParents(io.ctx.root, [...components, '']);
  await io.ctx.storage.chargeEntries(io.clientKey, missing);
  const target = await resolveUnderRoot(io.ctx.root, components, {
    createDirs: true,
    allowDirectory: true,
    beforeMkdir: creating(io),
  });
  await io.ctx.beforeTreeWrite?.(target.path, 'walked');
  // mkdir(2) by name follows a directory on the way swapped for a link since the walk: checked right before.
  await assertDirUnmoved(target.dir);
  const made = await makeReceivedDirectory(target.path);
  await io.ctx.beforeTreeWrite?.(target.path, 'made');
  // Changed through a descriptor whose kernel path is checked: a swap after the mkdir is refused too.
  await setDirectoryAttributes(target.path, receivedDirectoryMode(message.mode), message.mtimeMs, {
    rooted: true,
  });
  // A new directory's name must survive a crash. An existing one only got its own mode and mtime, which no
  // later step depends on (a lost mtime is set again by the next sync): no flush of its parent (issue 16: a
  // changed-tree sync sends one PUT_DIR per directory a changed file is in, each waited on in order, and each
  // flush was ~0.1-3 ms here, more on a busy disk).
  if (made || missing > 0) await fsyncDir(target.dir);
}

/**
 * PUT_LINK (PROTOCOL.md §5.10): a relative link whose target, resolved through the links already in the
 * root as they are on disk now, stays inside the client's root (`resolveLinkTarget` says why that holds
 * whatever is made later). The link is made under a temporary name and renamed into place, so an
 * existing link is replaced atomically.
 */
export async function writeLink(io: SessionIo, message: PutLinkMessage): Promise<void> {
  io.require(PERMISSION_UPLOAD, 'upload');
  const components = io.rooted(message.path);
  const verdict = await linkVerdictOnDisk(io.ctx.root, components, message.target, io.rootDepth);
  if (verdict.verdict === 'outside') throw new FerryError(verdict.code, verdict.reason);
  // The link and any missing parents count against the quota and the reserve (ENTRY_BYTES each).
  const missing = await missingParents(io.ctx.root, [...components, '']);
  await io.ctx.storage.chargeEntries(io.clientKey, missing);
  const target = await resolveUnderRoot(io.ctx.root, components, {
    createDirs: true,
    allowLink: true,
    allowDirectory: message.overwrite && message.replaceDir === true,
    beforeMkdir: creating(io),
  });
  await io.ctx.beforeTreeWrite?.(target.path, 'walked');
  const existing = await lstat(target.path).catch(() => undefined);
  if (existing) {
    // PROTOCOL.md §5.10: OVERWRITE replaces a link or a file (renamed over, atomically), a directory only
    // with REPLACE_DIR too: then it goes, with all it holds, right before the link is renamed in its place.
    const replaceable =
      existing.isSymbolicLink() ||
      (message.overwrite && existing.isFile()) ||
      (message.overwrite && message.replaceDir === true && existing.isDirectory());
    if (!replaceable) throw new FerryError('FILE_EXISTS', 'a file or directory is in the way of the link');
    if (!message.overwrite) {
      // PROTOCOL.md §5.10: "same target, nothing to do" would answer guesses about the link to a client
      // that may not list it.
      if (!io.may(PERMISSION_DOWNLOAD)) throw new FerryError('FILE_EXISTS');
      if ((await readlink(target.path)) !== message.target) throw new FerryError('FILE_EXISTS');
      return;
    }
  }
  // As a file's finish: a directory on the way swapped for a link since the walk is refused before the
  // replaced directory is cleared and the link is made there (symlink(2) and rename(2) by name follow it).
  await assertDirUnmoved(target.dir);
  const hook = io.ctx.beforeTreeWrite;
  if (existing?.isDirectory())
    await clearForReplacement(target, 'dir', {
      // NOT_UTF8 (§5.10): asked only by a client with no exclude pattern, which could have kept such a name.
      notUtf8: message.notUtf8 === true,
      beforeRead: hook && ((dir) => hook(dir, 'clearing')),
    });
  await placeLink(target, message.target, message.mtimeMs, { replace: existing !== undefined });
  await fsyncDir(target.dir);
}

/** The test hook's 'creating' step, for `resolveUnderRoot`'s `beforeMkdir`; none without a hook. */
function creating(io: SessionIo): ((dir: string) => Promise<void>) | undefined {
  const hook = io.ctx.beforeTreeWrite;
  return hook && ((dir) => hook(dir, 'creating'));
}
