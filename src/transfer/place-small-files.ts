import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsync,
  futimesSync,
  fchmodSync,
  linkSync,
  lstatSync,
  open,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { FerryError, toFerryError, type ErrorCode } from '../errors/index.js';
import { smallFileDigest } from '../protocol/index.js';
import { SERVER_BATCH_TEMP_PREFIX } from './batch-temporaries.js';
import { fsTimeOf } from './fs-names.js';
import { noFollowFlags } from './open-no-follow.js';
import { assertOpenedAt } from './opened-at.js';
import { receivedFileMode } from './received-mode.js';
import { assertWritableTargetSync } from './root-path.js';
import { identityOf } from './source-file.js';

/** One small file to place: its bytes, checked against `fileDigest`, under `dir`/`name` (already resolved). */
export interface SmallFile {
  readonly data: Uint8Array;
  readonly fileDigest: Uint8Array;
  readonly chunkBytes: number;
  readonly mode: number;
  readonly mtimeMs: number;
  /** The destination's directory, as resolveUnderRoot returned it (a real path under the root). */
  readonly dir: string;
  readonly path: string;
  readonly overwrite: boolean;
  /**
   * The destination existed at resolution and may not be replaced: compare it instead, and answer
   * `identical` when it already holds these bytes (PROTOCOL.md §5.4, §5.14), FILE_EXISTS otherwise.
   */
  readonly compareExisting: boolean;
}

/**
 * What became of one {@link SmallFile}; a placed file's `identity` (see SourceFile.identity) lets the
 * server recognise it later as the file it placed (TransferRegistry.recordPlaced).
 */
export type SmallFileOutcome =
  | { status: 'placed'; identity?: Uint8Array }
  | { status: 'identical' }
  /**
   * Not placed: the name was missing when located but taken when placed (another writer, such as a
   * session of the same client still settling a batch, placed it in between). Its caller decides again
   * as for a name that existed: compare it, or FILE_EXISTS.
   */
  | { status: 'taken' }
  /**
   * `error`: a failed system call's error (its path and errno, for this side's own message: a client names
   * the file it asked for and why); ferry's own refusals are said by `code`, the only part on the wire.
   */
  | { status: 'refused'; code: ErrorCode; error?: FerryError };

/** A refused outcome for `err`, keeping a system call's error (see SmallFileOutcome). */
function refusal(err: unknown): { status: 'refused'; code: ErrorCode; error?: FerryError } {
  const error = toFerryError(err);
  const errno = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof errno === 'string'
    ? { status: 'refused', code: error.code, error }
    : { status: 'refused', code: error.code };
}

/** What staging left of one {@link SmallFile}: its durable temporary, or already its outcome. */
export type StagedSmallFile = { status: 'staged'; temp: string } | SmallFileOutcome;

/** A staged file to place under its name: only what placing needs (its bytes are durable in `temp`). */
export interface StagedPlacement {
  readonly temp: string;
  readonly dir: string;
  readonly path: string;
  readonly overwrite: boolean;
}

/**
 * Places many small files, for a worker thread (PROTOCOL.md §5.14): {@link stageSmallFiles}, then
 * {@link placeStagedFiles} for the files staged. A file is reported `placed` only after its directory's fsync.
 */
export async function placeSmallFiles(
  tempDir: string,
  files: readonly SmallFile[],
): Promise<SmallFileOutcome[]> {
  const staged = await stageSmallFiles(tempDir, files);
  const toPlace: Array<{ index: number; placement: StagedPlacement }> = [];
  const outcomes = staged.map((item, index): SmallFileOutcome => {
    if (item.status !== 'staged') return item;
    const { dir, path, overwrite } = files[index]!;
    toPlace.push({ index, placement: { temp: item.temp, dir, path, overwrite } });
    return { status: 'placed' };
  });
  const placed = await placeStagedFiles(toPlace.map(({ placement }) => placement));
  toPlace.forEach(({ index }, k) => (outcomes[index] = placed[k]!));
  return outcomes;
}

/**
 * The first half of placing small files, which a batch runs while its later records still arrive
 * (PROTOCOL.md §5.14, issue 14): with the single-file path's rules (FilePartialStore's `open`), each file's
 * bytes are checked against its digest before anything is written; a file to compare (`compareExisting`)
 * is compared; any other is written to a new temporary in `tempDir` (O_EXCL, O_NOFOLLOW), given its mode and
 * mtime through the open descriptor and fsync'd. Nothing gets a final name here. The fsyncs run side by
 * side. A temporary that fails on the way is removed; the caller owns (places or removes) the staged ones.
 */
export async function stageSmallFiles(
  tempDir: string,
  files: readonly SmallFile[],
  options: {
    /**
     * How the temporaries' names start (SERVER_BATCH_TEMP_PREFIX); a client's, beside the user's files, hides
     * them (CLIENT_BATCH_TEMP_PREFIX). Both are swept by age only (sweepBatchTemporaries).
     */
    tempPrefix?: string;
  } = {},
): Promise<StagedSmallFile[]> {
  const staged: StagedSmallFile[] = files.map(() => ({ status: 'refused', code: 'INTERNAL' }));
  const refuse = (index: number, err: unknown): void => {
    staged[index] = refusal(err);
  };
  const prefix = `${options.tempPrefix ?? SERVER_BATCH_TEMP_PREFIX}${randomBytes(8).toString('hex')}-`;
  const written: Array<{ index: number; fd: number; temp: string }> = [];
  const nowSeconds = Date.now() / 1000;
  // 1. Check and write every file; nothing is fsync'd yet. Creating a file waits on the file system's
  // journal, so OPENS_AT_ONCE creations run side by side on libuv's pool; the rest is synchronous.
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < files.length) {
      const index = next++;
      const file = files[index]!;
      try {
        // Verified before a byte is written (§5.14): a corrupted entry leaves nothing behind.
        if (!smallFileDigest(file.data, file.chunkBytes).equals(file.fileDigest))
          throw new FerryError('DIGEST_MISMATCH');
        if (file.compareExisting) {
          staged[index] = holdsSame(file)
            ? { status: 'identical' }
            : { status: 'refused', code: 'FILE_EXISTS' };
          continue;
        }
        const temp = join(tempDir, `${prefix}${index}`);
        const fd = await openFd(temp, noFollowFlags('create'), 0o600);
        written.push({ index, fd, temp });
        staged[index] = { status: 'staged', temp };
        let offset = 0;
        while (offset < file.data.length)
          offset += writeSync(fd, file.data, offset, file.data.length - offset);
        fchmodSync(fd, receivedFileMode(file.mode));
        futimesSync(fd, nowSeconds, fsTimeOf(file.mtimeMs));
      } catch (err) {
        refuse(index, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPENS_AT_ONCE, files.length) }, lane));
  // 2. Data durable before any name points at it. The fsyncs run side by side (libuv's pool), so the file
  // system commits its journal for several at once: measured here (ext4), 4 ms per file one after the
  // other, 0.4 ms side by side.
  await Promise.all(
    written.map(async (item) => {
      try {
        if (staged[item.index]!.status === 'staged') await syncFd(item.fd);
      } catch (err) {
        refuse(item.index, err);
      } finally {
        closeSync(item.fd);
      }
      if (staged[item.index]!.status !== 'staged') removeQuietly(item.temp);
    }),
  );
  return staged;
}

/**
 * The second half, at the batch's end (PROTOCOL.md §5.14): places staged temporaries as FilePartialStore's
 * `finish` does: the destination's directory is checked again (realpath), the name must still be missing
 * or a regular file, and it is placed with link(2), which never replaces (a name taken meanwhile comes back
 * `taken`; a link or a directory there is refused), unless `overwrite` (rename(2), after checking the name). Every temporary is gone afterwards. Each directory is fsync'd
 * once after the last name placed in it; a failure there refuses every file placed in it.
 */
export async function placeStagedFiles(files: readonly StagedPlacement[]): Promise<SmallFileOutcome[]> {
  const outcomes: SmallFileOutcome[] = files.map(() => ({ status: 'placed' }));
  const refuse = (index: number, err: unknown): void => {
    outcomes[index] = refusal(err);
  };
  const byDir = new Map<string, number[]>();
  // Each directory is checked once per batch, right before the first name placed in it.
  const realDirs = new Map<string, boolean>();
  // Placed in batch order (§5.14).
  files.forEach((file, index) => {
    try {
      let real = realDirs.get(file.dir);
      if (real === undefined) {
        real = realpathSync(file.dir) === file.dir;
        realDirs.set(file.dir, real);
      }
      if (!real) throw new FerryError('PATH_ESCAPES_ROOT', 'a directory on the path became a symbolic link');
      if (file.overwrite) {
        assertWritableTargetSync(file.path);
        renameSync(file.temp, file.path);
      } else {
        try {
          // link(2) never replaces, nor follows a link at the name: a missing name, the usual case, costs no
          // lstat first (issue 14: one system call fewer per file).
          linkSync(file.temp, file.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          // Something is there: a link or a directory is refused as before placing; a file is `taken`.
          assertWritableTargetSync(file.path);
          outcomes[index] = { status: 'taken' };
          return;
        }
      }
      byDir.set(file.dir, [...(byDir.get(file.dir) ?? []), index]);
    } catch (err) {
      refuse(index, err);
    }
  });
  // Renamed into place (overwrite), or linked: the temporary's name goes either way.
  for (const file of files) removeQuietly(file.temp);
  // After the unlinks, which change a placed file's ctime (its link count).
  files.forEach((file, index) => {
    if (outcomes[index]!.status !== 'placed') return;
    try {
      outcomes[index] = { status: 'placed', identity: identityOf(lstatSync(file.path, { bigint: true })) };
    } catch {
      // Replaced or removed already: nothing of ours to recognise later.
    }
  });
  // One directory fsync per directory: the names are durable, then the files are confirmed.
  await Promise.all(
    [...byDir].map(async ([dir, indexes]) => {
      try {
        const fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
        try {
          await syncFd(fd);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        for (const index of indexes) refuse(index, err);
      }
    }),
  );
  return outcomes;
}

/** unlink(2) of a temporary that may be gone already (renamed into place, or never made). */
function removeQuietly(temp: string): void {
  try {
    unlinkSync(temp);
  } catch {
    // Gone already.
  }
}

/** Files created at once (see placeSmallFiles, step 1). */
const OPENS_AT_ONCE = 8;

/** open(2) on libuv's pool. */
function openFd(path: string, flags: number, mode: number): Promise<number> {
  return new Promise((resolve, reject) =>
    open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
}

/** fsync(2) on libuv's pool, so several run at once. */
function syncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * Whether the existing file at `file.path` (never through a link, nor through a directory on its way swapped
 * for one since it was resolved: the answer tells the other side whether the file holds its bytes) holds
 * exactly `file.data`.
 */
function holdsSame(file: SmallFile): boolean {
  const fd = openSync(file.path, noFollowFlags('read'));
  try {
    assertOpenedAt(fd, file.path);
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size !== file.data.length) return false;
    const held = Buffer.alloc(file.data.length);
    let offset = 0;
    while (offset < held.length) {
      const read = readSync(fd, held, offset, held.length - offset, offset);
      if (read === 0) return false;
      offset += read;
    }
    return smallFileDigest(held, file.chunkBytes).equals(file.fileDigest);
  } finally {
    closeSync(fd);
  }
}
