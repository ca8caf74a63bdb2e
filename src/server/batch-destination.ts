import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { smallFileDigest } from '../protocol/index.js';
import {
  identityOf,
  receivedFileMode,
  resolveUnderRoot,
  type SmallFile,
  type SmallFileOutcome,
  type StagedPlacement,
} from '../transfer/index.js';
import { missingParents } from './missing-parents.js';
import { assertObjectPlaceable } from './object-placeable.js';
import type { ServerObjectStore } from './server-object-store.js';
import type { SessionIo } from './session-io.js';
import { SMALL_FILE_PLACER } from './small-file-placer.js';

/** Where one batch entry goes, as {@link BatchDestination.locate} found it. */
export interface BatchTarget {
  /** Something is there already (a file under the root, or an object). */
  readonly exists: boolean;
  /** SmallFile.dir: the destination's directory under the root ('' for an object). */
  readonly dir: string;
  /** SmallFile.path: the file under the root, or the object's key (ServerObjectStore.targetOf). */
  readonly path: string;
}

/** One entry to place: its file and the transfer id it is claimed under (TransferRegistry, §6.2). */
export interface BatchPlacement {
  readonly transferId: string;
  readonly file: SmallFile;
}

/**
 * An entry on its way to its name ({@link BatchDestination.stage}): `staged`, its bytes durable in a
 * temporary; `settled` already (compared, or refused); or `deferred` to the batch's end (an object store).
 */
export type StagedEntry =
  | { readonly kind: 'staged'; readonly placement: StagedPlacement }
  | { readonly kind: 'settled'; readonly outcome: SmallFileOutcome }
  | { readonly kind: 'deferred'; readonly entry: BatchPlacement };

/**
 * The one seam between a batch's policy (BatchUploads: permissions, paths, claims, limits, overwrite or
 * compare, PROTOCOL.md §5.14) and where its files land: under the client's root on disk, or in the
 * server's object store (issue 15). Everything before `place` is the same policy for both.
 */
export interface BatchDestination {
  /**
   * Where the entry at `rooted` goes; on disk its missing parent directories are charged to the client
   * (StorageLimits.ENTRY_BYTES) and made. In an object store there are no directories.
   */
  locate(rooted: readonly string[]): Promise<BatchTarget>;
  /** Whether the file at `path` is, unchanged, the one this client's upload of `transferId` placed. */
  placedIt(transferId: string, path: string): Promise<boolean>;
  /** Places the entries (each one's digest checked before a byte is written), in order, one outcome each. */
  place(entries: readonly BatchPlacement[]): Promise<SmallFileOutcome[]>;
  /**
   * Does what can be done before the batch's end (PROTOCOL.md §5.14), for entries already checked, claimed
   * and charged: on disk each entry's bytes are verified and written durable to a temporary, no final name.
   */
  stage(entries: readonly BatchPlacement[]): Promise<StagedEntry[]>;
  /** At the batch's end: places staged entries under their names, durable, one outcome each, in order. */
  placeStaged(staged: readonly StagedEntry[]): Promise<SmallFileOutcome[]>;
  /** Removes what staging left of entries that will not be placed (a batch cut, an entry taken over). */
  discard(staged: readonly StagedEntry[]): Promise<void>;
  /** Gets ready to place, while a batch's records still arrive (starts the worker thread on disk). */
  warm(): void;
}

/** The session's destination: its object store when the server has one, else its root on disk. */
export function batchDestinationOf(io: SessionIo): BatchDestination {
  return io.objectStore ? new StoreBatchDestination(io) : new DiskBatchDestination(io);
}

/** Files under the client's root, placed by the worker thread (SmallFilePlacer, placeSmallFiles). */
class DiskBatchDestination implements BatchDestination {
  readonly #io: SessionIo;
  /** Directories under the root this session already checked (see resolveUnderRoot). */
  readonly #knownDirs = new Set<string>();
  /** Of those, the ones this session created (see locate). */
  readonly #madeDirs = new Set<string>();

  constructor(io: SessionIo) {
    this.#io = io;
  }

  async locate(rooted: readonly string[]): Promise<BatchTarget> {
    const { ctx, clientKey } = this.#io;
    // Bounded: a session touching very many directories just checks some of them again.
    if (this.#knownDirs.size > 10_000) {
      this.#knownDirs.clear();
      this.#madeDirs.clear();
    }
    const dir = join(ctx.root, ...rooted.slice(0, -1));
    // A directory this session made held nothing then: its names are taken as missing without an lstat
    // each (issue 14: most of a new tree's per-file cost on the event loop). Whatever another writer put
    // there since is still never replaced: the placer links without overwrite, and a name taken meanwhile
    // (another session of this client may write here too) comes back `taken`, to be decided again as an
    // existing one (BatchUploads.#placeAll).
    if (this.#madeDirs.has(dir) && this.#knownDirs.has(dir))
      return { exists: false, dir, path: join(dir, rooted[rooted.length - 1]!) };
    const missing = await missingParents(ctx.root, [...rooted], this.#knownDirs);
    await ctx.storage.chargeEntries(clientKey, missing);
    const target = await resolveUnderRoot(ctx.root, [...rooted], {
      createDirs: true,
      knownDirs: this.#knownDirs,
    });
    if (missing > 0) this.#madeDirs.add(target.dir);
    return target;
  }

  async placedIt(transferId: string, path: string): Promise<boolean> {
    try {
      return this.#io.ctx.registry.placedIt(transferId, identityOf(await lstat(path, { bigint: true })));
    } catch {
      return false;
    }
  }

  warm(): void {
    SMALL_FILE_PLACER.warm();
  }

  place(entries: readonly BatchPlacement[]): Promise<SmallFileOutcome[]> {
    return SMALL_FILE_PLACER.place(
      this.#io.ctx.partialDir,
      entries.map(({ file }) => file),
    );
  }

  async stage(entries: readonly BatchPlacement[]): Promise<StagedEntry[]> {
    const files = entries.map(({ file }) => file);
    const staged = await SMALL_FILE_PLACER.stage(this.#io.ctx.partialDir, files);
    return staged.map((item, index): StagedEntry => {
      if (item.status !== 'staged') return { kind: 'settled', outcome: item };
      const { dir, path, overwrite } = files[index]!;
      return { kind: 'staged', placement: { temp: item.temp, dir, path, overwrite } };
    });
  }

  async placeStaged(staged: readonly StagedEntry[]): Promise<SmallFileOutcome[]> {
    const placements = staged.flatMap((item) => (item.kind === 'staged' ? [item.placement] : []));
    const placed = await SMALL_FILE_PLACER.placeStaged(placements);
    let next = 0;
    return staged.map((item) => {
      if (item.kind === 'staged') return placed[next++]!;
      if (item.kind === 'settled') return item.outcome;
      throw new FerryError('INTERNAL', 'a disk batch entry was not staged');
    });
  }

  async discard(staged: readonly StagedEntry[]): Promise<void> {
    for (const item of staged)
      if (item.kind === 'staged') await rm(item.placement.temp, { force: true }).catch(() => undefined);
  }
}

/** Entries placed at once into an object store: each is a few requests, waiting on the network. */
const STORE_PLACES_AT_ONCE = 8;

/**
 * Objects in the server's store, each placed as the one-file path places an upload (upload-receiver.ts):
 * a partial keyed by its transfer id, its bytes written and made durable, then finished onto its object
 * with the same no-clobber rule (FILE_EXISTS unless OVERWRITE). Nothing is written under the root.
 */
class StoreBatchDestination implements BatchDestination {
  readonly #io: SessionIo;
  readonly #store: ServerObjectStore;
  /** Directories above this batch's entries found to be no object: a batch's entries share them. */
  readonly #checked = new Set<string>();

  constructor(io: SessionIo) {
    this.#io = io;
    this.#store = io.objectStore!;
  }

  async locate(rooted: readonly string[]): Promise<BatchTarget> {
    // No tree shape of its own: refused where a disk would refuse it (a batch entry never replaces a directory).
    await assertObjectPlaceable(this.#io, rooted, { replaceDir: false, checked: this.#checked });
    const key = this.#store.targetOf(rooted.join('/'));
    return { exists: await this.#store.exists(key), dir: '', path: key };
  }

  /** Nothing to start: objects are placed from the event loop. */
  warm(): void {}

  /** Nothing before the end: each object is placed whole then, as before (its partial is the store's). */
  stage(entries: readonly BatchPlacement[]): Promise<StagedEntry[]> {
    return Promise.resolve(entries.map((entry) => ({ kind: 'deferred', entry })));
  }

  async placeStaged(staged: readonly StagedEntry[]): Promise<SmallFileOutcome[]> {
    return this.place(
      staged.map((item) => {
        if (item.kind !== 'deferred') throw new FerryError('INTERNAL', 'a store batch entry was staged');
        return item.entry;
      }),
    );
  }

  /** Nothing was written before the end. */
  async discard(): Promise<void> {}

  /** Whether the object carries this upload's transfer id (TRANSFER_METADATA): placed by it, on any server. */
  async placedIt(transferId: string, path: string): Promise<boolean> {
    try {
      const object = await this.#store.openObject(path);
      await object.close();
      return object.placedBy === transferId;
    } catch {
      return false;
    }
  }

  async place(entries: readonly BatchPlacement[]): Promise<SmallFileOutcome[]> {
    const outcomes: SmallFileOutcome[] = entries.map(() => ({ status: 'placed' }));
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < entries.length) {
        const index = next++;
        outcomes[index] = await this.#placeOne(entries[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(STORE_PLACES_AT_ONCE, entries.length) }, lane));
    return outcomes;
  }

  /** The existing object read back (one GET: a small file) and compared by digest, as the disk worker does. */
  async #compare(file: BatchPlacement['file']): Promise<SmallFileOutcome> {
    try {
      const object = await this.#store.openObject(file.path);
      try {
        if (object.size !== file.data.length) return { status: 'refused', code: 'FILE_EXISTS' };
        const bytes = Buffer.alloc(object.size);
        await object.readExactly(bytes, 0, bytes.length, 0);
        return smallFileDigest(bytes, file.chunkBytes).equals(file.fileDigest)
          ? { status: 'identical' }
          : { status: 'refused', code: 'FILE_EXISTS' };
      } finally {
        await object.close();
      }
    } catch (err) {
      return { status: 'refused', code: toFerryError(err).code };
    }
  }

  async #placeOne({ transferId, file }: BatchPlacement): Promise<SmallFileOutcome> {
    // Verified before a byte is written (§5.14): a corrupted entry leaves nothing behind.
    if (!smallFileDigest(file.data, file.chunkBytes).equals(file.fileDigest))
      return { status: 'refused', code: 'DIGEST_MISMATCH' };
    if (file.compareExisting) return this.#compare(file);
    const header = { size: file.data.length, mtimeMs: file.mtimeMs, chunkBytes: file.chunkBytes };
    let partial;
    try {
      // A batch entry is always sent whole: nothing to resume, so no log and any earlier partial dropped.
      partial = await this.#store.open(transferId, header, { fresh: true, keepLog: false });
    } catch (err) {
      return { status: 'refused', code: toFerryError(err).code };
    }
    try {
      const data = Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength);
      if (data.length > 0) await partial.write(0, data);
      await partial.makeDurable([]);
      await partial.finish(file.path, {
        mode: receivedFileMode(file.mode),
        mtimeMs: file.mtimeMs,
        overwrite: file.overwrite,
      });
      return { status: 'placed' };
    } catch (err) {
      await partial.abort().catch(() => undefined);
      const code = toFerryError(err).code;
      // Created since it was located (the no-clobber finish): decided again like an existing one.
      return code === 'FILE_EXISTS' && !file.overwrite ? { status: 'taken' } : { status: 'refused', code };
    }
  }
}
