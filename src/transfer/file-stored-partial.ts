import { link, lstat, rename, rm, type FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { BatchedWriter } from './batched-writer.js';
import { DirectWriter } from './direct-writer.js';
import { ChunkLog, type ChunkEntry } from './chunk-log.js';
import { assertDirUnmoved } from './dir-unmoved.js';
import type { FilePartialStoreOptions } from './file-partial-store.js';
import { fsTimeOf } from './fs-names.js';
import { fsyncDir } from './fsync-dir.js';
import { PartialFileReader } from './partial-file-reader.js';
import type { FinishOptions, StoredPartial } from './partial-store.js';
import { clearForReplacement } from './remove-under-root.js';
import { assertWritableTarget, type RootPath } from './root-path.js';
import { freeReplacedLater, holdReplaced } from './replaced-file.js';
import { identityOf } from './source-file.js';

/** What `FilePartialStore.open` hands an open partial: its files, its log, and what the open found. */
export interface FileStoredPartialParts {
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
export class FileStoredPartial extends PartialFileReader implements StoredPartial<RootPath> {
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

  async lendUnbuffered(): Promise<
    { readonly fd: number; readonly giveBack: (bytes: number) => void } | undefined
  > {
    const fd = await this.#direct.lend();
    if (fd === undefined) return undefined;
    let given = false;
    return {
      fd,
      giveBack: (bytes) => {
        if (!given) this.#direct.giveBack(bytes);
        given = true;
      },
    };
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
    if (target.replaces && options.overwrite)
      await clearForReplacement(target, target.replaces, { notUtf8: target.replacesNotUtf8 });
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
