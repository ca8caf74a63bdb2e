import type { ChunkEntry } from './chunk-log.js';

/** What a transfer's partial bytes claim to be a copy of (PROTOCOL.md §9.2). */
export interface TransferHeader {
  readonly size: number;
  readonly mtimeMs: number;
  readonly chunkBytes: number;
}

/** The mtime a header is stored with: whole milliseconds, never negative (the state file's u64). */
function storedMtime(header: TransferHeader): number {
  return Math.max(0, Math.trunc(header.mtimeMs));
}

/** Whether two headers describe the same source as a store records it (PROTOCOL.md §9.2). */
export function sameTransferHeader(a: TransferHeader, b: TransferHeader): boolean {
  return a.size === b.size && a.chunkBytes === b.chunkBytes && storedMtime(a) === storedMtime(b);
}

/**
 * What a caller gives a store call it may wait on: `signal` aborts when the caller stops waiting (its
 * download cancelled, its session ended), and the store then drops its requests in flight (an object store's
 * HTTP request is closed) instead of finishing them for nobody. A store whose calls cannot be cancelled (a
 * file system's: Node has no way to abandon a read or an fsync in flight) may ignore it.
 */
export interface StoreCallOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * How {@link PartialStore.open} treats what it finds. `signal` (StoreCallOptions) covers the open and every
 * later call of the partial it opens: an upload's session ending drops its store requests in flight.
 */
export interface OpenPartialOptions extends StoreCallOptions {
  /** Drop any partial state first (PUT_OFFER flag FRESH). */
  readonly fresh: boolean;
  /**
   * Keep a durable log of verified chunks, so the partial can resume. False for a file of one chunk:
   * there is nothing finer than the whole file to resume, so its partial always starts empty, nothing is
   * logged and `makeDurable` syncs nothing (which is what makes many small files fast).
   */
  readonly keepLog: boolean;
}

/** Reads a partial's bytes back, for re-verifying the chunks its log claims. */
export interface StoredPartialReader {
  /** Reads up to `into.length` bytes at `offset`; fewer (or 0) at the end of what is stored. */
  read(offset: number, into: Buffer): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** A partial as found by {@link PartialStore.inspect}: its header, its log's claims, and its bytes. */
export interface InspectedPartial {
  readonly header: TransferHeader;
  /** The chunk entries the log claims (count them with `heldLoggedChunks`). */
  readonly logged: readonly ChunkEntry[];
  /** See {@link StoredPartial.unchangedSinceClose}. */
  readonly unchangedSinceClose: boolean;
  /** Open for reading; the caller closes it. */
  readonly reader: StoredPartialReader;
}

/** How `StoredPartial.finish` places a file. */
export interface FinishOptions {
  readonly mode: number;
  readonly mtimeMs: number;
  readonly overwrite: boolean;
  /**
   * Take the placed file's identity (`placedIdentity`), for a store of its leaf hashes (issue 16): two more
   * system calls, so asked only by a transfer that will record them.
   */
  readonly identity?: boolean | undefined;
}

/**
 * One open partial transfer in a store. Its order of durability is the store's promise (PROTOCOL.md
 * §9.2): bytes are durable before the log entry that vouches for them, so a crash only ever forgets
 * chunks, never claims bytes that were lost.
 */
export interface StoredPartial<Target> extends StoredPartialReader {
  /** True when a partial of another source (another header) was found and discarded (PUT_ACCEPT RESTARTED). */
  readonly restarted: boolean;
  /** True when the bytes of an earlier attempt for this header were kept; `logged` is then their claim. */
  readonly resumed: boolean;
  /**
   * The chunk entries the durable log claims (empty unless `resumed`). The caller counts them with
   * `heldLoggedChunks` (which re-hashes them through `read` unless `unchangedSinceClose`) and then calls
   * `resetLog` with those that hold.
   */
  readonly logged: readonly ChunkEntry[];
  /**
   * True only when the store can show that the partial is, byte for byte, what it was when it was last
   * closed cleanly, after its bytes and log were durable (PROTOCOL.md §9.2: the file's identity in the
   * log's closing record equals the file's identity now). The logged chunks then count as verified without
   * re-reading them; false (a crash, any change, a store that cannot tell) means they are re-hashed.
   */
  readonly unchangedSinceClose: boolean;
  /**
   * Queues `data` for `offset`; resolves at once unless too much is in flight. The caller does not change
   * `data` afterwards (it is written from the very buffer that was hashed: no copy on the hot path).
   */
  write(offset: number, data: Buffer): Promise<void>;
  /** Resolves once every write queued so far has landed (before rewriting a chunk, PROTOCOL.md §5.5.3). */
  flushWrites(): Promise<void>;
  /**
   * Writes `pieces` (contiguous in the file from `offset`) around the page cache where the store can (a
   * file opened for direct I/O, every piece aligned as it requires), resolving true once they landed, false
   * without writing anything when it cannot (the caller then writes them with `write`). For bytes written
   * once and not read back soon: a delta's old leaves placed while signing (issue 16: 1 GiB of new page
   * cache cost its server 0.3-2 CPU s). Durable by `makeDurable` or `finish`, as any write. Optional.
   */
  writeUnbuffered?(offset: number, pieces: readonly Buffer[]): Promise<boolean>;
  /**
   * The descriptor `writeUnbuffered` writes through, lent to a writer on another thread that writes aligned
   * pieces through it (a delta download's leaf hash thread, issue 16), with how to give it back, saying the
   * bytes it wrote, once none of its writes is in flight (closing the partial waits for that); undefined
   * when the store has none. Optional.
   */
  lendUnbuffered?(): Promise<{ readonly fd: number; readonly giveBack: (bytes: number) => void } | undefined>;
  /**
   * Makes every byte written so far durable, then durably logs `entries` as verified: data first, then
   * the log entry. Without a log (`keepLog` false) it only lands the writes.
   */
  makeDurable(entries: readonly ChunkEntry[]): Promise<void>;
  /**
   * Atomically replaces the log by exactly `entries`: after re-verifying a resumed partial, before the
   * next `makeDurable` (which appends to that log). No-op without a log.
   */
  resetLog(entries: readonly ChunkEntry[]): Promise<void>;
  /**
   * Makes the bytes durable and places them at `target` with `mode` and `mtimeMs`, atomically; never
   * replaces an existing target unless `overwrite` (FILE_EXISTS, and the target is left as it was). The
   * partial and its log are gone afterwards. `mode` is applied as given (the caller's policy decides it).
   */
  finish(target: Target, options: FinishOptions): Promise<void>;
  /**
   * After a `finish` asked for it (`FinishOptions.identity`), the placed file's identity (`identityOf`: device, inode, size, mtime and ctime in ns),
   * taken after the rename and the times were set, when the store can tell that it is the file it wrote;
   * undefined otherwise (a store of objects, or a file changed as it was placed). What a store of leaf
   * hashes binds them to (issue 16).
   */
  readonly placedIdentity?: Buffer | undefined;
  /**
   * Keeps bytes and log for a later resume; what was not made durable may be lost. Idempotent. A store
   * that can (PROTOCOL.md §9.2) makes the bytes durable and closes the log with the partial's identity, so
   * the next open finds it `unchangedSinceClose` unless something changed it meanwhile.
   */
  close(): Promise<void>;
  /** Closes and removes the partial and its log. */
  abort(): Promise<void>;
}

/** A partial found by {@link SweepablePartialStore.list}. */
export interface ListedPartial<Key> {
  readonly key: Key;
  /** When the partial was last written to, for sweeping abandoned ones. */
  readonly touchedMs: number;
}

/**
 * Where partial transfers live: a server's partial directory, beside a client's destination, or an object
 * store (issue 15). The shape of tus's DataStore, for one kind of thing. Keys say which transfer; targets
 * where a finished one goes. Every store passes test/transfer/partial-store-conformance.ts.
 */
export interface PartialStore<Key, Target> {
  /**
   * Creates or reopens the partial of `key` (PROTOCOL.md §9.2): for the same header (and not `fresh`,
   * and with a log kept) the bytes held and the log's claims are kept (`resumed`); otherwise it is made
   * empty, `restarted` when one existed for another header.
   */
  open(key: Key, header: TransferHeader, options: OpenPartialOptions): Promise<StoredPartial<Target>>;
  /** Reads a partial without changing it (the client's held claim before GET_REQUEST), or undefined. */
  inspect(key: Key): Promise<InspectedPartial | undefined>;
}

/** A store whose partials can be listed and removed by key: what the server's partial sweeper needs. */
export interface SweepablePartialStore<Key, Target> extends PartialStore<Key, Target> {
  /** Every partial in the store, with when it was last written to. */
  list(): Promise<Array<ListedPartial<Key>>>;
  /** Removes a partial that nobody has open (idempotent). */
  remove(key: Key): Promise<void>;
}
