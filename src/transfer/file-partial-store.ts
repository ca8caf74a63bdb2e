import { link, lstat, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { BatchedWriter } from './batched-writer.js';
import { DirectWriter } from './direct-writer.js';
import { ChunkLog, closedAs, type ChunkEntry, type DecodedChunkLog } from './chunk-log.js';
import { assertDirUnmoved } from './dir-unmoved.js';
import { fsTimeOf } from './fs-names.js';
import { fsyncDir } from './fsync-dir.js';
import { openNoFollow } from './open-no-follow.js';
import { clearForReplacement } from './remove-under-root.js';
import {
  sameTransferHeader,
  type InspectedPartial,
  type ListedPartial,
  type OpenPartialOptions,
  type StoredPartial,
  type StoredPartialReader,
  type SweepablePartialStore,
  type FinishOptions,
  type TransferHeader,
} from './partial-store.js';
import { assertWritableTarget, type RootPath } from './root-path.js';
import { freeReplacedLater, holdReplaced } from './replaced-file.js';
import { identityOf } from './source-file.js';
import { refuseUnlessOurs } from './writable-only-by-us.js';

/** Where a partial transfer keeps its bytes and its log of verified chunks. */
export interface PartialPaths {
  readonly dataPath: string;
  readonly logPath: string;
}

/** How a {@link FilePartialStore} names its partials. */
export interface FilePartialLayout<Key> {
  /** The data file and the state file (the log) of a key. */
  pathsOf(key: Key): PartialPaths;
  /**
   * For `list`: the directory that holds every partial of the store, and which key a name in it belongs
   * to (undefined: not a partial's). Only a store that owns its directory (the server's) can list.
   */
  readonly listing?: {
    readonly dir: string;
    keyOf(name: string): Key | undefined;
  };
}

export interface FilePartialStoreOptions {
  /**
   * Keep a state file even for a partial without a log (one chunk; written without fsync and never
   * appended to): a client's partials sit among the user's own files, and a ferry state file beside
   * `.NAME.ferry-part` is what marks that file as ferry's (`partialOwner`).
   */
  readonly markWithState?: boolean;
  /** How a finish lets go of the file it replaced (`freeReplacedLater`'s seam; tests hold it). */
  readonly freeReplaced?: (release: () => Promise<void>) => void;
  /** Each partial's writes through libuv's pool go one at a time (`BatchedWriterOptions.oneAtATime`). */
  readonly oneWriteAtATime?: boolean;
}

const HEADER_BYTES = 20;

function encodeTransferHeader(header: TransferHeader): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeBigUInt64BE(BigInt(header.size), 0);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(header.mtimeMs))), 8);
  out.writeUInt32BE(header.chunkBytes, 16);
  return out;
}

function decodeTransferHeader(bytes: Buffer): TransferHeader | undefined {
  if (bytes.length !== HEADER_BYTES) return undefined;
  return {
    size: Number(bytes.readBigUInt64BE(0)),
    mtimeMs: Number(bytes.readBigUInt64BE(8)),
    chunkBytes: bytes.readUInt32BE(16),
  };
}

/**
 * Partial transfers as two files: the bytes (`dataPath`, written in place at each chunk's offset) and a
 * `ChunkLog` of verified chunks (`logPath`) headed by the transfer's header. The server keeps them as
 * `<partialDir>/<id>.part|.state`, the client as `.NAME.ferry-part|-state` beside the destination.
 *
 * Protections (docs/SECURITY.md): every open is `O_NOFOLLOW`, and a new file `O_EXCL` (`openNoFollow`);
 * the state file is written before the data file, so a data file ferry made always has the state that
 * marks it; data is fdatasync'd before the log entry vouching for it; finish re-checks the destination's
 * directory right before placing, and places with link(2) (which never replaces) unless asked to overwrite.
 */
export class FilePartialStore<Key> implements SweepablePartialStore<Key, RootPath> {
  readonly #layout: FilePartialLayout<Key>;
  readonly #markWithState: boolean;
  readonly #freeReplaced: FilePartialStoreOptions['freeReplaced'];
  readonly #oneWriteAtATime: boolean;

  constructor(layout: FilePartialLayout<Key>, options: FilePartialStoreOptions = {}) {
    this.#layout = layout;
    this.#markWithState = options.markWithState ?? false;
    this.#freeReplaced = options.freeReplaced;
    this.#oneWriteAtATime = options.oneWriteAtATime ?? false;
  }

  async open(
    key: Key,
    header: TransferHeader,
    options: OpenPartialOptions,
  ): Promise<StoredPartial<RootPath>> {
    const { dataPath, logPath } = this.#layout.pathsOf(key);
    const encoded = encodeTransferHeader(header);
    const { keepLog } = options;
    const previous = options.fresh || !keepLog ? undefined : await ChunkLog.load(logPath);
    const previousHeader = previous && decodeTransferHeader(previous.header);
    const same = previousHeader !== undefined && sameTransferHeader(previousHeader, header);
    const restarted = previous !== undefined && !same;
    // Never through a link someone planted (O_NOFOLLOW), and a new data file is new (O_EXCL).
    let data = same ? await openIfPresent(dataPath) : undefined;
    const resumed = data !== undefined;
    // Taken before anything below touches the file (the truncate may move its ctime).
    const unchangedSinceClose =
      data !== undefined && (await unchangedSince(previous!, data).catch(() => false));
    let log: ChunkLog | undefined;
    if (data === undefined) {
      // The state file comes first, so a data file ferry made is never without the state that marks it.
      const marked = !keepLog && this.#markWithState;
      if (keepLog || marked) log = await ChunkLog.create(logPath, encoded, [], { durable: keepLog });
      try {
        // The stale bytes of another attempt: ours (marked, or in the server's own directory).
        await rm(dataPath, { force: true });
        data = await openNoFollow(dataPath, 'create');
      } catch (err) {
        await log?.close();
        throw err;
      }
      if (marked) {
        // Only a mark: never appended to, removed with the partial.
        await log?.close();
        log = undefined;
      }
    }
    try {
      // Sized up front so chunks can land at any offset; a one-chunk file is written whole from 0 (and
      // was made empty), so it skips the call.
      if (keepLog) await data.truncate(header.size);
    } catch (err) {
      await data.close();
      await log?.close();
      throw err;
    }
    return new FileStoredPartial({
      data,
      log,
      dataPath,
      logPath,
      header: encoded,
      keepLog,
      markPath: !keepLog && this.#markWithState ? logPath : undefined,
      restarted,
      resumed,
      logged: resumed ? previous!.entries : [],
      unchangedSinceClose,
      freeReplaced: this.#freeReplaced,
      oneWriteAtATime: this.#oneWriteAtATime,
    });
  }

  async inspect(key: Key): Promise<InspectedPartial | undefined> {
    const { dataPath, logPath } = this.#layout.pathsOf(key);
    const log = await ChunkLog.load(logPath);
    const header = log && decodeTransferHeader(log.header);
    if (!log || !header) return undefined;
    let data: FileHandle;
    try {
      data = await openNoFollow(dataPath, 'read');
    } catch {
      return undefined;
    }
    try {
      refuseUnlessOurs(await data.stat(), dataPath);
    } catch (err) {
      await data.close();
      throw err;
    }
    // Any doubt (the identity cannot be read) re-hashes.
    const unchangedSinceClose = await unchangedSince(log, data).catch(() => false);
    return { header, logged: log.entries, unchangedSinceClose, reader: new FileReader(data) };
  }

  /** The partials in the store's directory, each with the newest mtime of its files. */
  async list(): Promise<Array<ListedPartial<Key>>> {
    const listing = this.#listing();
    const newest = new Map<Key, number>();
    for (const name of await readdir(listing.dir)) {
      const key = listing.keyOf(name);
      if (key === undefined) continue;
      try {
        const { mtimeMs } = await stat(join(listing.dir, name));
        newest.set(key, Math.max(newest.get(key) ?? 0, mtimeMs));
      } catch {
        // removed concurrently: nothing to list
      }
    }
    return [...newest].map(([key, touchedMs]) => ({ key, touchedMs }));
  }

  /**
   * Removes a partial nobody has open: the data file first, so it is never left without the state that
   * marks it, then the state file and a temporary of it an interrupted rewrite left.
   */
  async remove(key: Key): Promise<void> {
    const { dataPath, logPath } = this.#layout.pathsOf(key);
    for (const path of [dataPath, logPath, ChunkLog.temporaryOf(logPath)]) await rm(path, { force: true });
  }

  #listing(): NonNullable<FilePartialLayout<Key>['listing']> {
    const listing = this.#layout.listing;
    if (!listing) throw new FerryError('INTERNAL', 'this partial store has no directory of its own to list');
    return listing;
  }
}

/** Reads an open data file. */
class FileReader implements StoredPartialReader {
  protected handle: FileHandle | undefined;

  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  async read(offset: number, into: Buffer): Promise<number> {
    const handle = this.handle;
    if (!handle) throw new FerryError('INTERNAL', 'partial is closed');
    const { bytesRead } = await handle.read(into, 0, into.length, offset);
    return bytesRead;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

interface FileStoredPartialParts {
  readonly data: FileHandle;
  readonly log: ChunkLog | undefined;
  readonly dataPath: string;
  readonly logPath: string;
  readonly header: Buffer;
  readonly keepLog: boolean;
  readonly markPath: string | undefined;
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
  readonly unchangedSinceClose: boolean;
  readonly freeReplaced: FilePartialStoreOptions['freeReplaced'];
  readonly oneWriteAtATime: boolean;
}

/** One open partial of a {@link FilePartialStore}. */
class FileStoredPartial extends FileReader implements StoredPartial<RootPath> {
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
  readonly unchangedSinceClose: boolean;
  readonly #data: FileHandle;
  readonly #writer: BatchedWriter;
  /** Writes around the page cache (`writeUnbuffered`), through a descriptor of its own. */
  readonly #direct: DirectWriter;
  /** The durable log; none until `resetLog` on a resumed partial, none at all without `keepLog`. */
  #log: ChunkLog | undefined;
  readonly #dataPath: string;
  readonly #logPath: string;
  readonly #header: Buffer;
  readonly #keepLog: boolean;
  /** The state file that only marks a one-chunk partial as ferry's (`markWithState`), removed with it. */
  readonly #markPath: string | undefined;
  readonly #freeReplaced: FilePartialStoreOptions['freeReplaced'];

  constructor(parts: FileStoredPartialParts) {
    super(parts.data);
    this.#data = parts.data;
    this.#writer = new BatchedWriter(parts.data, { oneAtATime: parts.oneWriteAtATime });
    this.#direct = new DirectWriter(parts.data);
    this.#log = parts.log;
    this.#dataPath = parts.dataPath;
    this.#logPath = parts.logPath;
    this.#header = parts.header;
    this.#keepLog = parts.keepLog;
    this.#markPath = parts.markPath;
    this.restarted = parts.restarted;
    this.resumed = parts.resumed;
    this.logged = parts.logged;
    this.unchangedSinceClose = parts.unchangedSinceClose;
    this.#freeReplaced = parts.freeReplaced;
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.#writer.write(data, offset);
  }

  flushWrites(): Promise<void> {
    return this.#writer.flush();
  }

  writeUnbuffered(offset: number, pieces: readonly Buffer[]): Promise<boolean> {
    return this.#direct.write(offset, pieces);
  }

  async makeDurable(entries: readonly ChunkEntry[]): Promise<void> {
    await this.#writer.flush();
    if (!this.#keepLog) return;
    const log = this.#log;
    if (!log) throw new FerryError('INTERNAL', 'a resumed partial is made durable before its log was reset');
    // Data first, then the log entry that vouches for it: a crash between the two only forgets chunks.
    await this.#data.datasync();
    await log.append(entries);
  }

  async resetLog(entries: readonly ChunkEntry[]): Promise<void> {
    if (!this.#keepLog) return;
    await this.#log?.close();
    this.#log = undefined;
    // Rewritten whole and renamed into place: drops entries that failed re-verification and any torn tail.
    this.#log = await ChunkLog.create(this.#logPath, this.#header, entries, { durable: true });
  }

  async finish(target: RootPath, options: FinishOptions): Promise<void> {
    // The file to be replaced is held, so the rename only unlinks its name: it is freed once the new one is
    // placed and its directory durable, without anyone waiting (replaced-file.ts; issue 16: 0.26 s of 1 GiB
    // inside rename(2)). Not for a file of one chunk (no log): a small file's replacement is the common case,
    // and the hold's two system calls would cost it more than it saves. Whatever is at the name now: should
    // it change before the rename, the hold only frees something else later, and the rename pays as before.
    // An O_PATH hold reads, writes and stats nothing, so taking it before `#place` re-checks the directory
    // gives no access through a link swapped in there.
    const replaced = options.overwrite && this.#keepLog ? await holdReplaced(target.path) : undefined;
    try {
      await this.#place(target, options);
    } finally {
      freeReplacedLater(replaced, this.#freeReplaced);
    }
  }

  async #place(target: RootPath, options: FinishOptions): Promise<void> {
    await this.#writer.flush();
    await this.#direct.close();
    await this.#data.chmod(options.mode);
    // Through the open file, never by name: the name could have become a link meanwhile.
    await this.#data.utimes(Date.now() / 1000, fsTimeOf(options.mtimeMs));
    await this.#data.sync();
    const written = options.identity === true ? await this.#data.stat({ bigint: true }) : undefined;
    await super.close();
    // Check again right before the rename: the target may have changed since the offer, and a directory
    // on its way may have been swapped for a link (rename(2) would follow it). This narrows the window to
    // microseconds; closing it needs renameat2 with RESOLVE_BENEATH, which Node lacks (SECURITY.md).
    await assertDirUnmoved(target.dir);
    // A replaced entry of another kind (ferry sync) goes only now, with its replacement ready beside it.
    if (target.replaces && options.overwrite) await clearForReplacement(target, target.replaces);
    else await assertWritableTarget(target.path);
    if (options.overwrite) {
      await rename(this.#dataPath, target.path);
    } else {
      // link(2) fails if the name exists, so a file that appeared meanwhile is never clobbered.
      try {
        await link(this.#dataPath, target.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new FerryError('FILE_EXISTS');
        throw err;
      }
      await rm(this.#dataPath, { force: true });
    }
    // The log vouches for nothing once the data left its name: it goes while the directory is made durable
    // (its unlink alone took up to 15 ms after that fsync, on a 1 GiB delta upload's way to PUT_DONE, issue
    // 16). Its removal was never made durable: a state file left by a crash is swept as before.
    await Promise.all([fsyncDir(target.dir), this.#removeLog()]);
    // The rename (or link and unlink) moved the ctime: the identity is taken after it, by name, and kept only
    // if it is the inode written, with the size and mtime set (a write meanwhile would have moved the mtime).
    if (written === undefined) return;
    const placed = await lstat(target.path, { bigint: true }).catch(() => undefined);
    if (
      placed?.isFile() === true &&
      placed.dev === written.dev &&
      placed.ino === written.ino &&
      placed.size === written.size &&
      placed.mtimeNs === written.mtimeNs
    )
      this.placedIdentity = identityOf(placed);
  }

  placedIdentity: Buffer | undefined;

  override async close(): Promise<void> {
    await this.#close(true);
  }

  /**
   * With `seal`, a partial with a log ready for appending is closed cleanly (PROTOCOL.md §9.2): every
   * write landed, the whole file fsync'd (data and the times its identity holds), its identity taken after
   * that and appended to the log as the closing record. Any failure leaves the log without it: the next
   * open re-hashes, as after a crash.
   */
  async #close(seal: boolean): Promise<void> {
    const log = this.#log;
    this.#log = undefined;
    try {
      // Its writes land before the seal's sync, and its descriptor goes with the file's.
      await this.#direct.close();
      if (seal && log && this.handle) {
        try {
          await this.#writer.flush();
          await this.#data.sync();
          await log.closeWith(identityOf(await this.#data.stat({ bigint: true })));
        } catch {
          // Not closed cleanly: nothing vouches for the file, so the next open re-hashes it.
        }
      }
    } finally {
      try {
        // A write still in flight on a pool worker goes through the descriptor number: it must land first.
        await this.#writer.settled();
        await super.close();
      } finally {
        await log?.close();
      }
    }
  }

  async abort(): Promise<void> {
    await this.#close(false).catch(() => undefined);
    await rm(this.#dataPath, { force: true });
    await this.#removeLog();
  }

  async #removeLog(): Promise<void> {
    await this.#log?.close();
    this.#log = undefined;
    if (this.#keepLog) await rm(this.#logPath, { force: true });
    if (this.#markPath !== undefined) await rm(this.#markPath, { force: true });
  }
}

/**
 * Whether `log` ends with a closing record for the open data file's identity as it is now (PROTOCOL.md
 * §9.2): the file is then the one whose chunks the log lists, unchanged (any write moves its ctime, which
 * no process can set). Read through the open handle, so it is the file that will be read and resumed.
 */
async function unchangedSince(log: DecodedChunkLog, data: FileHandle): Promise<boolean> {
  if (log.closing === undefined) return false;
  return closedAs(log, identityOf(await data.stat({ bigint: true })));
}

/** Opens an existing data file to resume it; undefined when it is gone. */
async function openIfPresent(path: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await openNoFollow(path, 'update');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // Checked through the handle resumed: a data file swapped in after `partialOwner` is refused too.
    refuseUnlessOurs(await handle.stat(), path);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}
