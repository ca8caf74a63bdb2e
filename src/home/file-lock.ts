import { open, stat, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { FerryError } from '../errors/index.js';

// A lock older than this was left by a crashed process (every holder finishes within milliseconds).
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;
const LOCK_RETRY_MS = 20;

// One queue per file in this process, in front of the lock file that serialises processes.
const queues = new Map<string, Promise<void>>();

/**
 * Runs a read-modify-write of `path` (the allow-list, the pinned servers, the invites) under an in-process
 * queue and a lock file `PATH.lock`, so a `ferry allow` racing a `ferry revoke` or a pairing server never
 * loses either change. The lock file is created with O_EXCL; one older than 10 s is a crashed holder's and
 * is broken.
 */
export async function withFileLock<T>(
  path: string,
  signal: AbortSignal | undefined,
  task: () => Promise<T>,
): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  let release = (): void => undefined;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous.then(() => mine);
  queues.set(path, tail);
  try {
    await previous;
    signal?.throwIfAborted();
    const lockPath = `${path}.lock`;
    await acquireLockFile(lockPath, signal);
    try {
      return await task();
    } finally {
      await unlink(lockPath).catch(() => undefined);
    }
  } finally {
    release();
    if (queues.get(path) === tail) queues.delete(path);
  }
}

async function acquireLockFile(lockPath: string, signal: AbortSignal | undefined): Promise<void> {
  const startedAt = Date.now();
  for (;;) {
    signal?.throwIfAborted();
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    try {
      if (Date.now() - (await stat(lockPath)).mtimeMs > LOCK_STALE_MS) {
        await unlink(lockPath);
        continue;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (Date.now() - startedAt > LOCK_WAIT_MS) {
      throw new FerryError(
        'IO_ERROR',
        `${lockPath} is held by another process; remove it if no ferry is running`,
      );
    }
    await delay(LOCK_RETRY_MS, undefined, signal === undefined ? {} : { signal });
  }
}
