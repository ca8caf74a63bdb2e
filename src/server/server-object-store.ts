import type { PartHold } from './part-memory.js';
import type { ChunkSource, SweepablePartialStore } from '../transfer/index.js';

/** An object read back: a ChunkSource of one version, and which upload placed it. */
export interface StoredObject extends ChunkSource {
  readonly placedBy: string | undefined;
}

/** A file or directory of an object store's tree (directories are the prefixes of keys). */
export interface ObjectFileEntry {
  readonly kind: 'file' | 'dir';
  /** Relative to the listed directory, '/'-separated. */
  readonly path: string;
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
}

/**
 * Where a server keeps received files when they live in an object store instead of under its root
 * (`ferry serve --store s3://...`, issue 15): its partials, keyed by transfer id, and the object each
 * finished upload becomes. `S3PartialStore` (src/objectstore/) is one; the server only knows this port.
 */
export interface ServerObjectStore extends SweepablePartialStore<string, string> {
  /**
   * This store for a caller that may stop waiting (a session, a download): every request of every call made
   * through the view, those of the partials it opens too, carries `signal` and is dropped when it aborts (its
   * connection closed, the call failing), so a store that stopped answering (the S3 SDK sets no request
   * timeout) holds no session past its end. A session reaches the store only through its view
   * (SessionIo.objectStore, with the session's or the download's signal); undefined: requests nobody drops.
   */
  withSignal(signal: AbortSignal | undefined): ServerObjectStore;
  /** The object a file at `relativePath` (already checked, PROTOCOL.md §7.1) is placed as. */
  targetOf(relativePath: string): string;
  /** Whether `target` exists now. */
  exists(target: string): Promise<boolean>;
  /**
   * Throws PATH_INVALID where a disk would refuse a file at `relativePath`: an object on the way, or keys
   * below it unless `replaceDir`. `checked`: directories above already found to be no object. `directory`
   * (PUT_DIR): an object at the name is FILE_EXISTS instead, keys below it are the directory itself.
   */
  assertPlaceable(
    relativePath: string,
    options: { replaceDir: boolean; checked?: Set<string>; directory?: boolean },
  ): Promise<void>;
  /** What is at `relativePath` ('' is the root directory), or undefined. */
  statFile(relativePath: string): Promise<ObjectFileEntry | undefined>;
  /**
   * The entries under the directory `relativeDir`, a directory before its contents, names sorted. With
   * `attributes: false` files' `mode` and `mtimeMs` are 0: they cost a request per file (LIST_REQUEST
   * NAMES_ONLY, PROTOCOL.md §5.12); with them, at most `maxHeads` such requests, each page's paid for by
   * `beforeHeads` before it goes.
   */
  listFiles(
    relativeDir: string,
    recursive: boolean,
    options?: {
      attributes: boolean;
      maxHeads?: number | undefined;
      beforeHeads?: ((count: number) => Promise<void>) | undefined;
      leaveOut?: ((path: string) => boolean) | undefined;
      /** Told each entry as it is collected (the listing is held whole): throws to end it. */
      onEntry?: ((entry: ObjectFileEntry) => void) | undefined;
    },
  ): Promise<readonly ObjectFileEntry[]>;
  /**
   * REMOVE_REQUEST's store half (PROTOCOL.md §5.16; the caller checked the permission and the path, §7.1):
   * deletes the object at `relativePath`, that key alone; a directory (a prefix) still holding keys is
   * PATH_INVALID, nothing there is 'nothing' (an empty directory of an object store is no key at all).
   */
  removeEntry(relativePath: string): Promise<'file' | 'nothing'>;
  /** Deletes every key below the directory `relativeDir`, `beforeEach` told before each goes (REPLACE_DIR). */
  removeBelow(relativeDir: string, beforeEach: () => Promise<void>): Promise<void>;
  /**
   * SET_ATTRIBUTES's store half (§5.19; permission, path and mode narrowing done by the caller): the object
   * at `relativePath` gets this mode and mtime, its content untouched and bound to the version checked
   * (SOURCE_CHANGED if it was replaced meanwhile); PATH_NOT_FOUND, or PATH_INVALID for a directory.
   */
  setAttributes(relativePath: string, attributes: { mode: number; mtimeMs: number }): Promise<void>;
  /**
   * Sets who pays for a part of a partial loaded back from the store while it is written (by the partial's
   * transfer id and the part's bytes): an upload holds a few parts in memory, and writes spread over more
   * parts (open chunks in many parts, fed a few bytes at a time) made each PUT_DATA upload one part and load
   * another back (docs/SECURITY.md "Object store"). The server pays it from the client's hashing budget.
   */
  payPartLoads?(pay: (transferId: string, bytes: number) => Promise<void>): void;
  /**
   * Sets what reserves the memory a partial holds in parts while it is written (by its transfer id and its
   * largest part's bytes, taken when it opens: SERVER_BUSY refuses the offer): the server's PartMemory.
   */
  holdPartsWith?(hold: (transferId: string, floorBytes: number) => PartHold): void;
  /**
   * The file at `relativePath`, to send (PATH_NOT_FOUND when there is none). Through a download's view
   * (`withSignal`: its CANCEL, its session's end) the request in flight (this HEAD, a later ranged GET of
   * the source) is dropped when the download stops and fails with the signal's reason.
   */
  openSource(relativePath: string): Promise<ChunkSource>;
  /**
   * The object `target` as it is now, to compare with an upload (PROTOCOL.md §5.4 EXISTING): its bytes,
   * and the transfer id of the upload that placed it, if ferry did (PATH_NOT_FOUND when there is none).
   */
  openObject(target: string): Promise<StoredObject>;
}

/**
 * The store as every session's context holds it: good for nothing but its views (`withSignal`), so no
 * session makes a request that its end does not drop (stop 43: removals, SET_ATTRIBUTES, an upload's HEAD
 * and a batch's opens took no signal, and a stalled store held their sessions past close's grace).
 */
export type SessionObjectStore = Pick<ServerObjectStore, 'withSignal'>;
