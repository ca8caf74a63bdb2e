import { isUtf8 } from 'node:buffer';
import { lstat, opendir, rmdir, unlink } from 'node:fs/promises';
import { assertDirUnmoved } from './dir-unmoved.js';

/**
 * A test's seam (the server's `beforeTreeWrite`): runs before each directory is read, given its path as a
 * string, lossy (U+FFFD) where a name on the way is not UTF-8: for a test to recognise, never to act on.
 */
export type BeforeRead = (dir: string) => Promise<void>;

/** `dir` + '/' + `name`, as bytes: a name that is not UTF-8 has no string that names it. */
function childPath(dir: string | Buffer, name: Buffer): Buffer {
  return Buffer.concat([typeof dir === 'string' ? Buffer.from(dir) : dir, Buffer.from('/'), name]);
}

/**
 * Removes the real directory `dir` and everything below it, never following a link, by the bytes of each
 * name: node's string for a name that is not UTF-8 (`b\xfe.txt`) reads `b\uFFFD.txt`, which names another
 * file (a twin spelt so) or none, so a removal by strings would take the twin and keep the name. Each
 * directory's real path is checked (as bytes) before it is read and again right before each removal in it
 * (Node has no `openat`/`unlinkat`): names read through a directory swapped for a link meanwhile are never
 * removed, nor is the directory itself; a directory is `lstat`ed before it is entered, so a link is unlinked
 * as a link. The caller checked `dir`'s parents (`resolveUnderRoot`). `only`: the names that go, at every
 * depth (all by default); a directory holding one left is refused by rmdir(2) (ENOTEMPTY), and so each above.
 */
export async function removeTree(
  dir: string | Buffer,
  beforeRead?: BeforeRead,
  only?: (name: Buffer) => boolean,
): Promise<void> {
  await assertDirUnmoved(dir);
  await beforeRead?.(dir.toString());
  await removeNamesIn(dir, { beforeRead, only, within: only });
  // rmdir(2) by name follows a directory above swapped for a link since: an empty one of that name outside
  // would go. Checked right before, as each unlink is.
  await assertDirUnmoved(dir);
  await rmdir(dir);
}

/**
 * How many names of one directory are held at once while it is emptied: a directory of millions of names
 * (anyone who may write into the tree can make one) costs this much memory per level, not its size.
 */
const NAMES_PER_READ = 128;

/**
 * Removes the entries of the real directory `dir` (checked by the caller) that `only` accepts (all by
 * default), each with `removeEntryIn`, reading `NAMES_PER_READ` names at a time until a read holds none to
 * remove. Each name read is gone or has thrown before the next read, so the reads end.
 */
export async function removeNamesIn(
  dir: string | Buffer,
  options: {
    only?: ((name: Buffer) => boolean) | undefined;
    /** The names that go in every directory below (`removeTree`'s `only`); all by default. */
    within?: ((name: Buffer) => boolean) | undefined;
    beforeRead?: BeforeRead | undefined;
  } = {},
): Promise<void> {
  for (;;) {
    // Reading by name follows `dir` swapped for a link since its last check.
    await assertDirUnmoved(dir);
    const names = (await namesIn(dir, NAMES_PER_READ)).filter(options.only ?? (() => true));
    if (names.length === 0) return;
    for (const name of names) await removeEntryIn(dir, name, options.beforeRead, options.within);
  }
}

/**
 * Removes the entry `name` of the real directory `dir` (checked by the caller), a directory with everything
 * below it (`removeTree`), anything else by `unlink(2)`, which takes a link itself, never its target. A name
 * gone meanwhile is fine; any other failure throws.
 */
async function removeEntryIn(
  dir: string | Buffer,
  name: Buffer,
  beforeRead?: BeforeRead,
  only?: (name: Buffer) => boolean,
): Promise<void> {
  const path = childPath(dir, name);
  const stats = await lstat(path).catch(ignoreMissing);
  if (stats?.isDirectory()) await removeTree(path, beforeRead, only);
  else if (stats) {
    // opendir and lstat by name follow `dir` swapped for a link since its check: nothing read there goes.
    await assertDirUnmoved(dir);
    await unlink(path).catch(ignoreMissing);
  }
}

/** Whether `dir` holds a name that is UTF-8, read as bytes, none held beyond the one being read. */
export async function holdsUtf8Name(dir: string | Buffer): Promise<boolean> {
  for await (const entry of await opendir(dir, { encoding: 'buffer' as BufferEncoding }))
    if (isUtf8(entry.name as unknown as Buffer)) return true;
  return false;
}

/** The first `max` names `dir` holds, as bytes (`encoding: 'buffer'`, untyped by @types/node). */
async function namesIn(dir: string | Buffer, max: number): Promise<Buffer[]> {
  const names: Buffer[] = [];
  // Leaving the loop early closes the directory.
  for await (const entry of await opendir(dir, { encoding: 'buffer' as BufferEncoding })) {
    names.push(entry.name as unknown as Buffer);
    if (names.length === max) break;
  }
  return names;
}

function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code !== 'ENOENT') throw err;
  return undefined;
}
