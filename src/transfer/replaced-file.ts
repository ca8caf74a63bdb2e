import type { ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { openDescriptors } from './open-descriptors.js';
import { Wakeup } from './wakeup.js';

/**
 * Linux's O_PATH (Node's `fs.constants` lacks it): a descriptor that only refers to an inode. It reads
 * nothing, writes nothing and opens nothing (a fifo does not block, a device is not opened), yet it keeps
 * the inode alive like any open file. The same value on every Linux architecture Node runs on.
 */
const O_PATH = 0o10000000;

/**
 * A replaced file at least this large is freed by a child process rather than by this one where the process
 * allows it (`freeReplacedFilesInChildren`, the CLI's get and sync): freeing it takes the filesystem ~0.25 s per GiB (here: ext4 mounted with
 * `discard`, waiting on the device), and a process cannot end before a freeing it started has (issue 16: a
 * `get --overwrite` of 1 GiB exited 0.19-0.29 s after its file was placed, waiting for nothing else). Smaller
 * files cost less to free than a child (a few ms) costs to start.
 */
export const FREE_IN_CHILD_MIN_BYTES = 64 * 1024 * 1024;

/**
 * What holds a replaced file for its freeing: it reads its input to the end and exits (its output goes
 * nowhere), and its exit lets go of the file. Named absolutely: no PATH lookup.
 */
const HOLDER_PROGRAM = '/bin/cat';

/** Replaced files handed to a child process to be freed there (tests, benches). */
export const REPLACED_FILE_COUNTERS = { freedInChild: 0 };

/**
 * Replaced files whose freeing may run at once (each holds a child process, or one of libuv's 4 pool
 * threads, for as long as the filesystem takes: ~0.26 s for 1 GiB on ext4 here). A finish past this waits
 * for one to end first, so a sync replacing many large files keeps at most this many old ones on disk.
 */
export const MAX_FREEING_REPLACED = 2;

/**
 * Whether this process hands replaced files to children (`freeReplacedFilesInChildren`): only a process about
 * to exit once its files are placed gains from it, so the CLI's get and sync turn it on. A server lives on
 * (and a fork stalled its event loop 12-14 ms), as does a library's caller: they free them on a pool thread
 * and start no process.
 */
let childrenAllowed = false;

/** Lets this process hand large replaced files to a child process to be freed (the CLI's get and sync). */
export function freeReplacedFilesInChildren(): void {
  childrenAllowed = true;
}

const freeing = new Set<Promise<void>>();
/** Holds taken by {@link holdReplaced} and not yet let go of: each becomes a freeing. */
let holding = 0;
/**
 * The child processes freeing replaced files now (`handOff`): they keep the process alive only while
 * someone waits in `replacedFilesFreed` (`waiting` of them).
 */
const holders = new Set<ChildProcess>();
let waiting = 0;
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
 * thread, or (a large one, where this process allows it) in a child process, while the caller goes on (the
 * server answers PUT_DONE, the client removes its state and exits; a process that exits while a pool thread
 * frees one still frees it first, in the kernel, which a child's freeing spares it). `free` is a test's seam
 * to run the release itself.
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

/**
 * Lets go of `held`: where this process allows it, a large regular file is handed to a child process that
 * holds it until this process has closed its own descriptor and then exits, so the filesystem frees it in the
 * child's exit, and this process may end meanwhile (a CLI that placed the new file exits at once). Anything
 * else, or where the child cannot start, is closed here on a pool thread. Resolves once it is freed.
 */
async function release(held: FileHandle): Promise<void> {
  const stats = childrenAllowed ? await held.stat().catch(() => undefined) : undefined;
  if (stats?.isFile() === true && stats.size >= FREE_IN_CHILD_MIN_BYTES) {
    const exited = await handOff(held).catch(() => undefined);
    if (exited !== undefined) return exited;
  }
  await held.close().catch(() => undefined);
}

/**
 * Starts the holder with `held` as its descriptor 3, closes ours, then ends the holder's input: the holder's
 * is the last reference, dropped as it exits. Resolves to a promise of its exit; undefined when it did not
 * start (`held` still open). Neither the holder nor its input keeps this process alive.
 */
async function handOff(held: FileHandle): Promise<Promise<void> | undefined> {
  const stdio = holderStdio(held.fd);
  if (stdio === undefined) return undefined;
  // Loaded here, not at start-up: a command that replaces no large file loads no child_process (cli-start-up).
  const { spawn } = await import('node:child_process');
  // No environment and `/` as its directory: the holder needs neither, and our cwd's mount stays busy for as
  // long as it lives otherwise.
  const holder = spawn(HOLDER_PROGRAM, [], { stdio, detached: true, env: {}, cwd: '/' });
  const exited = new Promise<void>((resolve) => {
    holder.once('exit', () => resolve());
    holder.once('error', () => resolve());
  }).finally(() => holders.delete(holder));
  if (holder.pid === undefined) return undefined;
  if (waiting === 0) holder.unref();
  holders.add(holder);
  const input = holder.stdin as Socket;
  input.on('error', () => undefined); // the holder gone early: its exit frees, or our close did
  input.unref();
  // Ours first, then the holder's input ends: its descriptor is the last one left.
  await held.close().catch(() => undefined);
  input.destroy();
  REPLACED_FILE_COUNTERS.freedInChild++;
  return exited;
}

/**
 * The holder's descriptors: its input, `/dev/null` out, `held` as 3, and nothing else. A descriptor this
 * process inherited without close-on-exec (a caller's pipe, a shell's `5>log`) would be inherited by the
 * holder and kept until its exit, the freeing's time after our own (0.25 s a GiB): someone reading that pipe
 * to its end waited that long after ferry exited. libuv closes nothing it is not told of (`'ignore'` above 2
 * leaves a descriptor as it is), so every number open here gets `held` there, which the holder's exit drops
 * with the rest. Node's own descriptors (close-on-exec, closed by the exec anyway) get it too: telling them
 * apart cost a read of `/proc/self/fdinfo` each (2.3 ms of CPU for 45, loaded), covering them a `dup2` each in
 * the child. Undefined where they cannot be listed: then the file is freed here.
 */
function holderStdio(held: number): Array<'pipe' | 'ignore' | number> | undefined {
  const open = openDescriptors();
  if (open === undefined) return undefined;
  const stdio: Array<'pipe' | 'ignore' | number> = ['pipe', 'ignore', 'ignore', held];
  for (const fd of open) {
    while (stdio.length <= fd) stdio.push('ignore');
    stdio[fd] = held;
  }
  return stdio;
}

/** Resolves once every replaced file let go of so far is freed (tests, and a caller that must know). */
export async function replacedFilesFreed(): Promise<void> {
  // A holder does not keep the process alive, unless someone waits for it.
  waiting++;
  for (const holder of holders) holder.ref();
  try {
    await Promise.all(freeing);
  } finally {
    waiting--;
  }
}

function track(release: () => Promise<void>): void {
  const released: Promise<void> = release().finally(() => {
    freeing.delete(released);
    freed.wake();
  });
  freeing.add(released);
}
