import { FerryError } from '../errors/index.js';
import type { ChunkEntry } from './chunk-log.js';
import {
  sameTransferHeader,
  type FinishOptions,
  type InspectedPartial,
  type ListedPartial,
  type OpenPartialOptions,
  type StoredPartial,
  type StoredPartialReader,
  type SweepablePartialStore,
  type TransferHeader,
} from './partial-store.js';

/** A file a {@link MemoryPartialStore} placed with `finish`. */
export interface MemoryPlacedFile {
  readonly bytes: Buffer;
  readonly mode: number;
  readonly mtimeMs: number;
}

/** One partial: what a reader sees now, and what would survive a crash. */
interface MemoryRecord {
  readonly header: TransferHeader;
  readonly keepLog: boolean;
  /** The bytes as written so far (a page cache). */
  bytes: Buffer;
  length: number;
  /** The bytes as of the last `makeDurable` (the disk). */
  durableBytes: Buffer;
  durableLength: number;
  /** The durable log; every entry in it was made durable (undefined without `keepLog`). */
  log: ChunkEntry[] | undefined;
  /**
   * The log ends with a closing record and the bytes are as they were then (PROTOCOL.md §9.2): set by a
   * clean close, cleared by the next open and by `overwrite`, as a file's ctime moves on any write.
   */
  closedClean: boolean;
  touchedMs: number;
  /** Open partials of this record; a crash or a removal closes them. */
  readonly open: Set<MemoryStoredPartial>;
}

/**
 * Partials in a Map, for tests: the same port as `FilePartialStore` without a disk. Targets are names
 * in `placed`. `crash()` drops every byte and log entry not yet made durable and closes every open
 * partial, as a power cut would, so the durable-before-logged rule (PROTOCOL.md §9.2) is testable with
 * bytes alone. Passes test/transfer/partial-store-conformance.ts. Its calls never wait, so it ignores
 * `OpenPartialOptions.signal`.
 */
export class MemoryPartialStore<Key = string> implements SweepablePartialStore<Key, string> {
  readonly #records = new Map<Key, MemoryRecord>();
  /** Files placed by `finish`, by target name; durable once placed. */
  readonly placed = new Map<string, MemoryPlacedFile>();
  readonly #now: () => number;

  /** `now` stamps each write, for `list` (injected by tests of the sweeper). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async open(key: Key, header: TransferHeader, options: OpenPartialOptions): Promise<StoredPartial<string>> {
    await Promise.resolve();
    const previous = this.#records.get(key);
    for (const partial of previous?.open ?? []) partial.detach();
    const same =
      previous !== undefined &&
      !options.fresh &&
      options.keepLog &&
      sameTransferHeader(previous.header, header);
    // Like the file store, only a partial with a log can say which header it had.
    const restarted = previous?.log !== undefined && !options.fresh && options.keepLog && !same;
    let record: MemoryRecord;
    if (same && previous.keepLog) {
      record = previous;
      // Sized up front, as the file store truncates; what lay past the end is gone.
      record.length = header.size;
    } else {
      const size = options.keepLog ? header.size : 0;
      record = {
        header,
        keepLog: options.keepLog,
        bytes: Buffer.alloc(size),
        length: size,
        durableBytes: Buffer.alloc(size),
        durableLength: size,
        log: options.keepLog ? [] : undefined,
        closedClean: false,
        touchedMs: this.#now(),
        open: new Set(),
      };
      this.#records.set(key, record);
    }
    const resumed = record === previous;
    const logged = resumed ? [...(record.log ?? [])] : [];
    const unchangedSinceClose = resumed && record.closedClean;
    record.closedClean = false;
    const hooks: MemoryHooks = {
      now: this.#now,
      place: (target, file, overwrite) => {
        if (!overwrite && this.placed.has(target)) throw new FerryError('FILE_EXISTS');
        this.placed.set(target, file);
        this.#forget(key, record);
      },
      forget: () => this.#forget(key, record),
    };
    const partial = new MemoryStoredPartial(record, hooks, {
      restarted,
      resumed,
      logged,
      unchangedSinceClose,
    });
    record.open.add(partial);
    return partial;
  }

  async inspect(key: Key): Promise<InspectedPartial | undefined> {
    await Promise.resolve();
    const record = this.#records.get(key);
    if (record?.log === undefined) return undefined;
    return {
      header: record.header,
      logged: [...record.log],
      unchangedSinceClose: record.closedClean,
      reader: new MemoryReader(record),
    };
  }

  async list(): Promise<Array<ListedPartial<Key>>> {
    await Promise.resolve();
    return [...this.#records].map(([key, record]) => ({ key, touchedMs: record.touchedMs }));
  }

  async remove(key: Key): Promise<void> {
    await Promise.resolve();
    const record = this.#records.get(key);
    for (const partial of record?.open ?? []) partial.detach();
    this.#records.delete(key);
  }

  /**
   * Another process rewrites `bytes` at `offset` of the partial of `key`, durably (tests of the resume
   * policy): the log no longer vouches for the bytes, as a file's moved ctime tells the file store.
   */
  overwrite(key: Key, offset: number, bytes: Buffer): void {
    const record = this.#records.get(key);
    if (!record) throw new FerryError('INTERNAL', 'no partial to overwrite');
    bytes.copy(record.bytes, offset);
    bytes.copy(record.durableBytes, offset);
    record.closedClean = false;
  }

  /**
   * A power cut: every partial falls back to its durable bytes and log, one without a log is gone, and
   * every open partial is closed (its later calls fail, as the process that held it would be dead).
   */
  crash(): void {
    for (const [key, record] of this.#records) {
      for (const partial of record.open) partial.detach();
      if (record.log === undefined) {
        this.#records.delete(key);
        continue;
      }
      record.bytes = Buffer.from(record.durableBytes);
      record.length = record.durableLength;
    }
  }

  /** Removes the record if it is still the key's (not replaced by a newer open). */
  #forget(key: Key, record: MemoryRecord): void {
    if (this.#records.get(key) === record) this.#records.delete(key);
  }
}

/** What an open partial may do to its store. */
interface MemoryHooks {
  now(): number;
  /** Places a finished partial's bytes at `target` and forgets the partial. */
  place(target: string, file: MemoryPlacedFile, overwrite: boolean): void;
  /** Forgets the partial (abort). */
  forget(): void;
}

class MemoryReader implements StoredPartialReader {
  protected record: MemoryRecord | undefined;

  constructor(record: MemoryRecord) {
    this.record = record;
  }

  async read(offset: number, into: Buffer): Promise<number> {
    await Promise.resolve();
    const record = this.live();
    if (offset >= record.length) return 0;
    return record.bytes.copy(into, 0, offset, Math.min(record.length, offset + into.length));
  }

  async close(): Promise<void> {
    await Promise.resolve();
    this.record = undefined;
  }

  protected live(): MemoryRecord {
    if (!this.record) throw new FerryError('INTERNAL', 'partial is closed');
    return this.record;
  }
}

class MemoryStoredPartial extends MemoryReader implements StoredPartial<string> {
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
  readonly unchangedSinceClose: boolean;
  readonly #hooks: MemoryHooks;
  readonly #record: MemoryRecord;
  /** A resumed partial appends only after `resetLog`, as the file store does. */
  #logReady: boolean;

  constructor(
    record: MemoryRecord,
    hooks: MemoryHooks,
    found: {
      restarted: boolean;
      resumed: boolean;
      logged: readonly ChunkEntry[];
      unchangedSinceClose: boolean;
    },
  ) {
    super(record);
    this.#hooks = hooks;
    this.#record = record;
    this.restarted = found.restarted;
    this.resumed = found.resumed;
    this.logged = found.logged;
    this.unchangedSinceClose = found.unchangedSinceClose;
    this.#logReady = !found.resumed;
  }

  /** Closes this partial without touching the record (a crash, or another open of its key). */
  detach(): void {
    this.record = undefined;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await Promise.resolve();
    const record = this.live();
    const end = offset + data.length;
    if (end > record.bytes.length) {
      const grown = Buffer.alloc(Math.max(end, record.bytes.length * 2));
      record.bytes.copy(grown, 0, 0, record.length);
      record.bytes = grown;
    }
    data.copy(record.bytes, offset);
    record.length = Math.max(record.length, end);
    record.touchedMs = this.#hooks.now();
  }

  async flushWrites(): Promise<void> {
    await Promise.resolve();
    this.live();
  }

  async makeDurable(entries: readonly ChunkEntry[]): Promise<void> {
    await Promise.resolve();
    const record = this.live();
    if (record.log === undefined) return;
    if (!this.#logReady)
      throw new FerryError('INTERNAL', 'a resumed partial is made durable before its log was reset');
    // Data first, then the log entries that vouch for it.
    record.durableBytes = Buffer.from(record.bytes.subarray(0, record.length));
    record.durableLength = record.length;
    record.log.push(...entries.map(copyEntry));
  }

  async resetLog(entries: readonly ChunkEntry[]): Promise<void> {
    await Promise.resolve();
    const record = this.live();
    if (record.log === undefined) return;
    record.log = entries.map(copyEntry);
    this.#logReady = true;
  }

  async finish(target: string, options: FinishOptions): Promise<void> {
    await Promise.resolve();
    const record = this.live();
    const bytes = Buffer.from(record.bytes.subarray(0, record.length));
    this.#hooks.place(target, { bytes, mode: options.mode, mtimeMs: options.mtimeMs }, options.overwrite);
    this.#close();
  }

  override async close(): Promise<void> {
    await Promise.resolve();
    const record = this.record;
    // A clean close (PROTOCOL.md §9.2), as the file store's: the bytes made durable, then the closing record.
    if (record?.log !== undefined && this.#logReady) {
      record.durableBytes = Buffer.from(record.bytes.subarray(0, record.length));
      record.durableLength = record.length;
      record.closedClean = true;
    }
    this.#close();
  }

  async abort(): Promise<void> {
    await Promise.resolve();
    this.#close();
    // Only while the record is still the key's: a newer open's partial is not this one's to remove.
    this.#hooks.forget();
  }

  #close(): void {
    this.record = undefined;
    this.#record.open.delete(this);
  }
}

function copyEntry(entry: ChunkEntry): ChunkEntry {
  return { index: entry.index, hash: Buffer.from(entry.hash) };
}
