import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Options for {@link atomicWriteFile}. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file (before the umask); 0o600 when not given. */
  mode?: number;
  signal?: AbortSignal;
}

/**
 * Replaces `path` with `data` so that a reader (or a crash) sees either the old file or the whole new one,
 * never a torn mix: write a temp file in the same directory, fsync it, rename it over `path`, fsync the
 * directory. The temp file is created with O_EXCL and its final mode, so it is never readable more widely
 * than the file it replaces, not even for a moment.
 */
export async function atomicWriteFile(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const { mode = 0o600, signal } = options;
  signal?.throwIfAborted();
  const dir = dirname(path);
  // Same directory, so rename() never crosses a filesystem; dot-prefixed and random so it never collides.
  const tempPath = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tempPath, 'wx', mode);
  let renamed = false;
  try {
    try {
      await handle.writeFile(data, { signal });
      // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
      await handle.sync();
    } finally {
      await handle.close();
    }
    signal?.throwIfAborted();
    await rename(tempPath, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(tempPath).catch(() => undefined);
  }
  await syncDirectory(dir);
}

// The rename lives in the directory entry, so the directory is fsynced to make it durable. Some platforms
// (Windows) cannot open a directory for fsync; there the rename is as durable as the OS makes it.
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort, see above
  } finally {
    await handle?.close();
  }
}
