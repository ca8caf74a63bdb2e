import { lstat, opendir, rmdir, unlink } from 'node:fs/promises';
import { assertDirUnmoved } from './dir-unmoved.js';

/**
 * A test's seam (the server's `beforeTreeWrite`): runs before each directory is read, given its path as a
 * string, lossy (U+FFFD) where a name on the way is not UTF-8: for a test to recognise, never to act on.
 */
export type BeforeRead = (dir: string) => Promise<void>;

/** `dir` + '/' + `name`, as bytes: a name that is not UTF-8 has no string that names it. */
export function childPath(dir: string | Buffer, name: Buffer): Buffer {
  return Buffer.concat([typeof dir === 'string' ? Buffer.from(dir) : dir, Buffer.from('/'), name]);
}

/**
 * Removes the real directory `dir` and everything below it, never following a link, by the bytes of each
 * name: node's string for a name that is not UTF-8 (`b\xfe.txt`) reads `b\uFFFD.txt`, which names another
 * file (a twin spelt so) or none, so a removal by strings would take the twin and keep the name. Each
 * directory's real path is checked (as bytes) before it is read and again right before each removal in it
 * (Node has no `openat`/`unlinkat`): names read through a directory swapped for a link meanwhile are never
 * removed, nor is the directory itself; a directory is `lstat`ed before it is entered, so a link is unlinked
 * as a link. The caller checked `dir`'s parents (`resolveUnderRoot`).
 */
export async function removeTree(dir: string | Buffer, beforeRead?: BeforeRead): Promise<void> {
  await assertDirUnmoved(dir);
  await beforeRead?.(dir.toString());
  for (const name of await namesIn(dir)) await removeEntryIn(dir, name, beforeRead);
  // rmdir(2) by name follows a directory above swapped for a link since: an empty one of that name outside
  // would go. Checked right before, as each unlink is.
  await assertDirUnmoved(dir);
  await rmdir(dir);
}

/**
 * Removes the entry `name` of the real directory `dir` (checked by the caller), a directory with everything
 * below it (`removeTree`), anything else by `unlink(2)`, which takes a link itself, never its target.
 */
export async function removeEntryIn(
  dir: string | Buffer,
  name: Buffer,
  beforeRead?: BeforeRead,
): Promise<void> {
  const path = childPath(dir, name);
  const stats = await lstat(path).catch(() => undefined);
  if (stats?.isDirectory()) await removeTree(path, beforeRead);
  else if (stats) {
    // opendir and lstat by name follow `dir` swapped for a link since its check: nothing read there goes.
    await assertDirUnmoved(dir);
    await unlink(path).catch(ignoreMissing);
  }
}

/** The names `dir` holds, as bytes (node reads them so with `encoding: 'buffer'`, untyped by @types/node). */
export async function namesIn(dir: string | Buffer): Promise<Buffer[]> {
  const names: Buffer[] = [];
  for await (const entry of await opendir(dir, { encoding: 'buffer' as BufferEncoding }))
    names.push(entry.name as unknown as Buffer);
  return names;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
