import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Wakeup } from './wakeup.js';

/**
 * Linux's O_PATH (Node's `fs.constants` lacks it): a descriptor that only refers to an inode. It reads
 * nothing, writes nothing and opens nothing (a fifo does not block, a device is not opened), yet it keeps
 * the inode alive like any open file. The same value on every Linux architecture Node runs on.
 */
const O_PATH = 0o10000000;

/**
 * Replaced files whose freeing may run at once (each holds one of libuv's 4 pool threads for as long as
 * the filesystem takes: ~0.26 s for 1 GiB on ext4 here). A finish past this waits
 * for one to end first, so a sync replacing many large files keeps at most this many old ones on disk.
 */
export const MAX_FREEING_REPLACED = 2;

const freeing = new Set<Promise<void>>();
/** Holds taken by {@link holdReplaced} and not yet let go of: each becomes a freeing. */
let holding = 0;
/** Woken as each freeing settles. */
const freed = new Wakeup();

/**
 * A hold on the file a finish is about to replace at `path` (issue 16): with it open, rename(2) only
 * unlinks the name, and freeing the old inode's blocks (0.26 s of a 1 GiB file on ext4, inside rename
 * otherwise) waits for {@link freeReplacedLater}, after the new file is durable and placed. Nothing of the
 * old file is read and it stays as it is; a crash frees it as the kernel frees any unlinked open file (the
 * journal's orphan list), so nothing is left behind for a sweeper. Undefined when there is nothing to hold
 * (no such name) or the system has no O_PATH (then rename(2) frees it, as before). Never follows a link:
 * one at `path` is held as itself.
 */
export async function holdReplaced(path: string): Promise<FileHandle | undefined> {
  if (process.platform !== 'linux') return undefined;
  // Holds not yet let go count too: finishes that all passed the check before any let go (many clients'
  // uploads finishing at once on a server) would each free one, past the bound, all of libuv's pool threads
  // busy freeing.
  while (freeing.size + holding >= MAX_FREEING_REPLACED) await freed.next();
  holding++;
  try {
    return await open(path, O_PATH | fsConstants.O_NOFOLLOW);
  } catch {
    // Missing, or not ours to hold: the rename decides what happens to it, as without a hold.
    holding--;
    freed.wake();
    return undefined;
  }
}

/**
 * Lets go of a hold from {@link holdReplaced} without waiting: the filesystem frees the old file on a pool
 * thread while the caller goes on (the server answers PUT_DONE; a sync places its next file). A process
 * exits only once its freeings are done, as rsync's rename and scp's truncate finish theirs: handing the file
 * to a child that outlived ferry (stop 36) saved a CLI ~0.25 s per GiB at its exit but left the file system
 * busy after it (`get --overwrite ... && umount` failed with "target is busy"). `free` is a test's seam to run
 * the release itself.
 */
export function freeReplacedLater(
  held: FileHandle | undefined,
  free: (release: () => Promise<void>) => void = track,
): void {
  if (held === undefined) return;
  holding--;
  free(() => release(held));
  freed.wake();
}

/** Lets go of `held` on a pool thread; resolves once the filesystem has freed it. */
async function release(held: FileHandle): Promise<void> {
  await held.close().catch(() => undefined);
}

/** Resolves once every replaced file let go of so far is freed (tests, and a caller that must know). */
export async function replacedFilesFreed(): Promise<void> {
  await Promise.all(freeing);
}

function track(release: () => Promise<void>): void {
  const released: Promise<void> = release().finally(() => {
    freeing.delete(released);
    freed.wake();
  });
  freeing.add(released);
}
