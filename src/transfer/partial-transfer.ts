import { FerryError } from '../errors/index.js';
import { ChunkSet, chunkCount, type ChunkRange } from '../protocol/index.js';
import { receivedFileMode } from './received-mode.js';
import type { RootPath } from './root-path.js';
import type { ChunkEntry } from './chunk-log.js';
import { ChunkStates, DURABLE_BATCH_BYTES } from '../machines/index.js';
import type { PartialStore, StoredPartial, TransferHeader } from './partial-store.js';
import { verifyLoggedChunks } from './verify-logged-chunks.js';

export type { TransferHeader } from './partial-store.js';

export { DURABLE_BATCH_BYTES };

export interface PartialTransferOptions extends TransferHeader {
  /** Drop any partial state first (PUT_OFFER flag FRESH). */
  readonly fresh: boolean;
  /** Held chunks the caller already re-verified with `inspect` (spares a second hashing pass). */
  readonly verified?: readonly ChunkEntry[] | undefined;
  readonly durableBatchBytes?: number;
  /** Called whenever more bytes become verified and durable. */
  readonly onDurable?: (verifiedBytes: number) => void;
}

/**
 * The receiving side of one transfer: a partial in a store (`PartialStore`) plus the rules of what it may
 * trust. Which bytes are trusted is decided by ChunkStates (every byte written is hashed on its way in,
 * and a verified chunk is never written again); this class makes verified chunks durable in batches
 * through the store (data first, then the log entry), and finishes with a digest check and the store's
 * atomic placement. Used by both the server (uploads) and the client (downloads).
 */
export class PartialTransfer<Target = RootPath> {
  readonly header: TransferHeader;
  /** True when a partial existed for another source and was discarded (PUT_ACCEPT flag RESTARTED). */
  readonly restarted: boolean;
  readonly #stored: StoredPartial<Target>;
  /** False for a file of one chunk, which resumes whole anyway: nothing is logged, nothing is durable early. */
  readonly #keepLog: boolean;
  /** Which chunks are verified from the bytes written (PROTOCOL.md §5.5); the only source of chunk hashes. */
  readonly #states: ChunkStates;
  /** Chunks verified and durable (a subset of the verified ones). */
  readonly #held: ChunkSet;
  readonly #batchBytes: number;
  readonly #onDurable: ((verifiedBytes: number) => void) | undefined;
  #pending: ChunkEntry[] = [];
  #pendingBytes = 0;
  #flushing: Promise<void> = Promise.resolve();
  #verifiedBytes = 0;
  #flushError: Error | undefined;
  #closed = false;

  private constructor(
    options: PartialTransferOptions,
    stored: StoredPartial<Target>,
    keepLog: boolean,
    held: readonly ChunkEntry[],
  ) {
    this.header = { size: options.size, mtimeMs: options.mtimeMs, chunkBytes: options.chunkBytes };
    this.restarted = stored.restarted;
    this.#stored = stored;
    this.#keepLog = keepLog;
    this.#states = new ChunkStates(options.size, options.chunkBytes, { verified: held });
    this.#held = new ChunkSet(this.#states.count);
    this.#batchBytes = options.durableBatchBytes ?? DURABLE_BATCH_BYTES;
    this.#onDurable = options.onDurable;
    for (const entry of held) {
      this.#held.add(entry.index);
      this.#verifiedBytes += this.#states.lengthOf(entry.index);
    }
  }

  /**
   * Opens the transfer's partial of `key` in `store`, resuming it when the header matches and re-hashing
   * every chunk the log lists so bytes changed behind our back are dropped (PROTOCOL.md §9.2).
   */
  static async open<Key, Target>(
    store: PartialStore<Key, Target>,
    key: Key,
    options: PartialTransferOptions,
  ): Promise<PartialTransfer<Target>> {
    const header: TransferHeader = {
      size: options.size,
      mtimeMs: options.mtimeMs,
      chunkBytes: options.chunkBytes,
    };
    // A file of at most one chunk keeps no log: there is nothing finer than the whole file to resume, and
    // skipping the log's fsyncs is what makes many small files fast.
    const keepLog = chunkCount(options.size, options.chunkBytes) > 1;
    const stored = await store.open(key, header, { fresh: options.fresh, keepLog });
    try {
      let held: readonly ChunkEntry[] = [];
      if (stored.resumed) {
        held = options.verified ?? (await verifyLoggedChunks(stored, stored.logged, header));
        // Rewritten on resume: drops entries that failed re-verification and any torn tail.
        await stored.resetLog(held);
      }
      return new PartialTransfer(options, stored, keepLog, held);
    } catch (err) {
      await stored.close();
      throw err;
    }
  }

  /**
   * Reads an existing partial without changing it: its header and the logged chunks whose bytes still hash
   * right. Undefined when there is no usable partial. Used by a downloading client to say what it holds.
   */
  static async inspect<Key>(
    store: PartialStore<Key, unknown>,
    key: Key,
  ): Promise<{ header: TransferHeader; held: ChunkEntry[] } | undefined> {
    const found = await store.inspect(key);
    if (!found) return undefined;
    try {
      return {
        header: found.header,
        held: await verifyLoggedChunks(found.reader, found.logged, found.header),
      };
    } finally {
      await found.reader.close();
    }
  }

  /** Bytes of chunks that are verified and durable. */
  get verifiedBytes(): number {
    return this.#verifiedBytes;
  }

  /** The held chunks as ranges, for PUT_ACCEPT. */
  heldRanges(): ChunkRange[] {
    return this.#held.ranges();
  }

  /** SHA-256 over the held chunks' hashes in index order (PROTOCOL.md §5.4). */
  heldDigest(): Buffer {
    return this.#states.haveDigest(this.#held);
  }

  /**
   * Writes a data payload at its offset for `stream` (one value per session; parallel streams, §5.13),
   * after ChunkStates has checked it against PROTOCOL.md §5.5.1 and §5.5.3 and hashed it. The write is
   * queued from the same buffer that was hashed, which the caller no longer changes (the store's
   * contract; decrypted records are fresh buffers), so the bytes stored are the bytes hashed.
   */
  async writeData(offset: number, data: Buffer, stream: unknown = this): Promise<void> {
    if (this.#flushError !== undefined) throw this.#flushError;
    const rewrite = this.#states.accept(offset, data, stream);
    // A chunk sent again after a mismatch: the failed attempt's writes must land first, or one of them
    // could overwrite the new bytes after they were hashed.
    if (rewrite) await this.#stored.flushWrites();
    await this.#stored.write(offset, data);
  }

  /**
   * Closes a chunk whose data is all written: its hash must match (PROTOCOL.md §5.5.2), else it stays
   * unverified (CHUNK_MISMATCH) and the transfer cannot finish until it is received again.
   */
  completeChunk(index: number, chunkHash: Buffer, stream: unknown = this): void {
    const hash = this.#states.complete(index, chunkHash, stream);
    const length = this.#states.lengthOf(index);
    this.#pending.push({ index, hash });
    this.#pendingBytes += length;
    if (this.#pendingBytes >= this.#batchBytes) this.#startFlush();
  }

  /** A stream ended: the chunks it left half-sent become unverified and may be sent by another (§5.13.5). */
  abandonChunks(stream: unknown): void {
    this.#states.abandon(stream);
  }

  /**
   * Verifies the whole file against `expectedDigest`, makes it durable and gives it its final name
   * (PROTOCOL.md §9.3). With `overwrite` false, an existing destination is never replaced.
   */
  async finish(
    expectedDigest: Buffer,
    target: Target,
    options: { mode: number; overwrite: boolean; mtimeMs?: number },
  ): Promise<Buffer> {
    // Only hashes of the bytes now in the partial: every chunk verified, none open (ChunkStates).
    const digest = this.#states.fileDigest();
    this.#startFlush();
    await this.#flushing;
    await this.#stored.flushWrites();
    if (!digest.equals(expectedDigest)) {
      // Every chunk matched its hash yet the whole does not: the chunks are from different versions of the
      // source. Keeping them would fail every resume the same way, so the partial goes.
      await this.discard();
      throw new FerryError('DIGEST_MISMATCH');
    }
    await this.#stored.finish(target, {
      mode: receivedFileMode(options.mode),
      mtimeMs: options.mtimeMs ?? this.header.mtimeMs,
      overwrite: options.overwrite,
    });
    this.#closed = true;
    return digest;
  }

  /** Flushes what is verified and closes the partial, keeping it for a later resume. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#startFlush();
      await this.#flushing;
    } finally {
      await this.#stored.close();
    }
  }

  /** Discards the partial entirely. */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await this.#stored.abort();
  }

  /** Starts a flush of the pending chunks behind any running one, so receiving overlaps fsync. */
  #startFlush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    const batchBytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#flushing = this.#flushing.then(async () => {
      // Data first, then the log entry that vouches for it: a crash between the two only forgets chunks.
      await this.#stored.makeDurable(batch);
      for (const entry of batch) this.#held.add(entry.index);
      this.#verifiedBytes += batchBytes;
      // Without a log nothing is durable before finish() syncs the file: no progress is claimed early.
      if (this.#keepLog) this.#onDurable?.(this.#verifiedBytes);
    });
    // A failed flush (disk full) is reported by the next write or by finish/close, never left unhandled.
    this.#flushing.catch((err: unknown) => {
      this.#flushError ??= err instanceof Error ? err : new Error(String(err));
    });
  }
}
