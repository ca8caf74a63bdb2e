import { readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { ChunkLog } from './chunk-log.js';
import { FileStoredPartial } from './file-stored-partial.js';
import { openIfPresent } from './open-if-present.js';
import { openNoFollow } from './open-no-follow.js';
import { PartialFileReader } from './partial-file-reader.js';
import {
  sameTransferHeader,
  type InspectedPartial,
  type ListedPartial,
  type OpenPartialOptions,
  type StoredPartial,
  type SweepablePartialStore,
  type TransferHeader,
} from './partial-store.js';
import type { RootPath } from './root-path.js';
import { decodeTransferHeader, encodeTransferHeader } from './transfer-header-bytes.js';
import { unchangedSince } from './unchanged-since.js';
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

/**
 * Partial transfers as two files: the bytes (`dataPath`, written in place at each chunk's offset) and a
 * `ChunkLog` of verified chunks (`logPath`) headed by the transfer's header. The server keeps them as
 * `<partialDir>/<id>.part|.state`, the client as `.NAME.ferry-part|-state` beside the destination.
 *
 * Protections (docs/SECURITY.md): every open is `O_NOFOLLOW`, and a new file `O_EXCL` (`openNoFollow`);
 * the state file is written before the data file, so a data file ferry made always has the state that
 * marks it; data is fdatasync'd before the log entry vouching for it; finish re-checks the destination's
 * directory right before placing, and places with link(2) (which never replaces) unless asked to overwrite.
 * `OpenPartialOptions.signal` is ignored: Node cannot abandon a write or an fsync in flight, and a disk that
 * stopped taking data holds its session until close's grace reports it (CloseOptions).
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
    return { header, logged: log.entries, unchangedSinceClose, reader: new PartialFileReader(data) };
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
