import { createHash } from 'node:crypto';
import { link, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { ChunkHashes, ChunkSet, chunkCount, type ChunkRange } from '../protocol/index.js';
import { fsyncDir } from './fsync-dir.js';
import { fsTimeOf } from './fs-names.js';
import { receivedFileMode } from './received-mode.js';
import { BatchedWriter } from './batched-writer.js';
import { assertWritableTarget, type RootPath } from './root-path.js';
import { ChunkLog, type ChunkEntry } from './chunk-log.js';
import { ChunkStates } from './chunk-states.js';
import { openNoFollow } from './open-no-follow.js';

/** What a transfer's partial bytes claim to be a copy of (PROTOCOL.md §9.2). */
export interface TransferHeader {
  readonly size: number;
  readonly mtimeMs: number;
  readonly chunkBytes: number;
}

function decodeTransferHeader(bytes: Buffer): TransferHeader | undefined {
  if (bytes.length !== 20) return undefined;
  return {
    size: Number(bytes.readBigUInt64BE(0)),
    mtimeMs: Number(bytes.readBigUInt64BE(8)),
    chunkBytes: bytes.readUInt32BE(16),
  };
}

function encodeTransferHeader(header: TransferHeader): Buffer {
  const out = Buffer.alloc(20);
  out.writeBigUInt64BE(BigInt(header.size), 0);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(header.mtimeMs))), 8);
  out.writeUInt32BE(header.chunkBytes, 16);
  return out;
}

/** Chunks verified but not yet durable are flushed once they add up to this many bytes (PROTOCOL.md §9.2). */
export const DURABLE_BATCH_BYTES = 16 * 1024 * 1024;

/** Where a partial transfer keeps its bytes and its log of verified chunks. */
export interface PartialPaths {
  readonly dataPath: string;
  readonly logPath: string;
}

export interface PartialTransferOptions extends TransferHeader, PartialPaths {
  /** Drop any partial state first (PUT_OFFER flag FRESH). */
  readonly fresh: boolean;
  /** Held chunks the caller already re-verified with `inspect` (spares a second hashing pass). */
  readonly verified?: readonly ChunkEntry[] | undefined;
  readonly durableBatchBytes?: number;
  /** Called whenever more bytes become verified and durable. */
  readonly onDurable?: (verifiedBytes: number) => void;
  /**
   * Keep a state file even for a file of one chunk (which has nothing finer to resume, so it is written
   * without fsync and never appended to): a client's partials sit among the user's own files, and a
   * ferry state file beside `.NAME.ferry-part` is what marks that file as ferry's (`partialOwner`).
   */
  readonly markWithState?: boolean;
}

/**
 * The receiving side of one transfer: a partial file plus its state log. Which bytes it may trust is
 * decided by ChunkStates (every byte written is hashed on its way in, and a verified chunk is never written
 * again); this class adds the disk: it makes verified chunks durable in batches (data fdatasync first, then
 * the log entry), and finishes with a digest check and an atomic rename. Used by both the server (uploads)
 * and the client (downloads).
 */
export class PartialTransfer {
  readonly header: TransferHeader;
  /** True when a partial existed for another source and was discarded (PUT_ACCEPT flag RESTARTED). */
  readonly restarted: boolean;
  readonly #data: FileHandle;
  readonly #writer: BatchedWriter;
  /** The durable log of verified chunks; none for a file of one chunk, which resumes whole anyway. */
  readonly #log: ChunkLog | undefined;
  readonly #dataPath: string;
  /** The state file that only marks a one-chunk partial as ferry's (`markWithState`), removed with it. */
  readonly #markPath: string | undefined;
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
    data: FileHandle,
    log: ChunkLog | undefined,
    dataPath: string,
    held: readonly ChunkEntry[],
    restarted: boolean,
  ) {
    this.header = { size: options.size, mtimeMs: options.mtimeMs, chunkBytes: options.chunkBytes };
    this.restarted = restarted;
    this.#data = data;
    this.#writer = new BatchedWriter(data);
    this.#log = log;
    this.#dataPath = dataPath;
    this.#states = new ChunkStates(options.size, options.chunkBytes, { verified: held });
    this.#held = new ChunkSet(this.#states.count);
    this.#markPath = log === undefined && options.markWithState === true ? options.logPath : undefined;
    this.#batchBytes = options.durableBatchBytes ?? DURABLE_BATCH_BYTES;
    this.#onDurable = options.onDurable;
    for (const entry of held) {
      this.#held.add(entry.index);
      this.#verifiedBytes += this.#states.lengthOf(entry.index);
    }
  }

  /**
   * Opens the transfer's partial state, resuming it when the header matches and re-hashing every chunk
   * the log lists so bytes changed behind our back are dropped (PROTOCOL.md §9.2).
   */
  static async open(options: PartialTransferOptions): Promise<PartialTransfer> {
    const { dataPath, logPath } = options;
    const header = encodeTransferHeader(options);
    // A file of at most one chunk keeps no log: there is nothing finer than the whole file to resume, and
    // skipping the log's fsyncs is what makes many small files fast.
    const logged = chunkCount(options.size, options.chunkBytes) > 1;
    const previous = options.fresh || !logged ? undefined : await ChunkLog.load(logPath);
    const restarted = previous !== undefined && !previous.header.equals(header);
    // Never through a link someone planted (O_NOFOLLOW), and a new data file is new (O_EXCL).
    let data = previous?.header.equals(header) ? await openIfPresent(dataPath) : undefined;
    const matches = data !== undefined;
    let fresh: ChunkLog | undefined;
    if (data === undefined) {
      // The state file comes first, so a data file ferry made is never without the state that marks it.
      if (logged || options.markWithState)
        fresh = await ChunkLog.create(logPath, header, [], { durable: logged });
      try {
        // The stale bytes of another attempt: ours (marked, or in the server's own directory).
        await rm(dataPath, { force: true });
        data = await openNoFollow(dataPath, 'create');
      } catch (err) {
        await fresh?.close();
        throw err;
      }
      if (!logged) await fresh?.close();
    }
    try {
      const held = matches
        ? (options.verified ?? (await verifiedEntries(data, previous!.entries, options)))
        : [];
      // Sized up front so chunks can land at any offset; a one-chunk file is written whole from 0 (and
      // was made empty), so it skips the call.
      if (logged) await data.truncate(options.size);
      // Rewritten on resume: drops entries that failed re-verification and any torn tail.
      const log = !logged
        ? undefined
        : (fresh ?? (await ChunkLog.create(logPath, header, held, { durable: true })));
      return new PartialTransfer(options, data, log, dataPath, held, restarted);
    } catch (err) {
      await data.close();
      throw err;
    }
  }

  /**
   * Reads an existing partial without changing it: its header and the logged chunks whose bytes still hash
   * right. Undefined when there is no usable partial. Used by a downloading client to say what it holds.
   */
  static async inspect(
    paths: PartialPaths,
  ): Promise<{ header: TransferHeader; held: ChunkEntry[] } | undefined> {
    const log = await ChunkLog.load(paths.logPath);
    const header = log && decodeTransferHeader(log.header);
    if (!log || !header) return undefined;
    let data: FileHandle;
    try {
      data = await openNoFollow(paths.dataPath, 'read');
    } catch {
      return undefined;
    }
    try {
      return { header, held: await verifiedEntries(data, log.entries, header) };
    } finally {
      await data.close();
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
   * queued from the same buffer that was hashed, which the caller no longer changes (BatchedWriter's
   * contract; decrypted records are fresh buffers), so the bytes on disk are the bytes hashed.
   */
  async writeData(offset: number, data: Buffer, stream: unknown = this): Promise<void> {
    if (this.#flushError !== undefined) throw this.#flushError;
    const { rewrite } = this.#states.accept(offset, data, stream);
    // A chunk sent again after a mismatch: the failed attempt's writes must land first, or one of them
    // could overwrite the new bytes after they were hashed.
    if (rewrite) await this.#writer.flush();
    await this.#writer.write(data, offset);
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
    target: RootPath,
    options: { mode: number; overwrite: boolean; mtimeMs?: number },
  ): Promise<Buffer> {
    // Only hashes of the bytes now in the partial: every chunk verified, none open (ChunkStates).
    const digest = this.#states.fileDigest();
    this.#startFlush();
    await this.#flushing;
    await this.#writer.flush();
    if (!digest.equals(expectedDigest)) {
      // Every chunk matched its hash yet the whole does not: the chunks are from different versions of the
      // source. Keeping them would fail every resume the same way, so the partial goes.
      await this.discard();
      throw new FerryError('DIGEST_MISMATCH');
    }
    await this.#data.chmod(receivedFileMode(options.mode));
    // Through the open file, never by name: the name could have become a link meanwhile.
    await this.#data.utimes(Date.now() / 1000, fsTimeOf(options.mtimeMs ?? this.header.mtimeMs));
    await this.#data.sync();
    await this.#data.close();
    this.#closed = true;
    // Check again right before the rename: the target may have changed since the offer, and a directory
    // on its way may have been swapped for a link (rename(2) would follow it). This narrows the window to
    // microseconds; closing it needs renameat2 with RESOLVE_BENEATH, which Node lacks (SECURITY.md).
    if ((await realpath(target.dir)) !== target.dir) {
      throw new FerryError('PATH_ESCAPES_ROOT', 'a directory on the path became a symbolic link');
    }
    await assertWritableTarget(target.path);
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
    await fsyncDir(target.dir);
    await this.#log?.remove();
    if (this.#markPath !== undefined) await rm(this.#markPath, { force: true });
    return digest;
  }

  /** Flushes what is verified and closes the files, keeping them for a later resume. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#startFlush();
      await this.#flushing;
    } finally {
      await this.#data.close();
      await this.#log?.close();
    }
  }

  /** Discards the partial entirely. */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.#dataPath, { force: true });
    await this.#log?.remove();
    if (this.#markPath !== undefined) await rm(this.#markPath, { force: true });
  }

  /** Starts a flush of the pending chunks behind any running one, so receiving overlaps fsync. */
  #startFlush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    const batchBytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    const log = this.#log;
    this.#flushing = this.#flushing.then(async () => {
      await this.#writer.flush();
      if (log) {
        // Data first, then the log entry that vouches for it: a crash between the two only forgets chunks.
        await this.#data.datasync();
        await log.append(batch);
      }
      for (const entry of batch) this.#held.add(entry.index);
      this.#verifiedBytes += batchBytes;
      // Without a log nothing is durable before finish() syncs the file: no progress is claimed early.
      if (log) this.#onDurable?.(this.#verifiedBytes);
    });
    // A failed flush (disk full) is reported by the next write or by finish/close, never left unhandled.
    this.#flushing.catch((err: unknown) => {
      this.#flushError ??= err instanceof Error ? err : new Error(String(err));
    });
  }
}

/** Opens an existing data file to resume it; undefined when it is gone. */
async function openIfPresent(path: string): Promise<FileHandle | undefined> {
  try {
    return await openNoFollow(path, 'update');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Re-hashes each logged chunk from disk and keeps only those whose bytes still match. */
async function verifiedEntries(
  data: FileHandle,
  entries: readonly ChunkEntry[],
  header: TransferHeader,
): Promise<ChunkEntry[]> {
  // The last entry of a chunk wins; an entry past the file's end is skipped: a log is checked, not trusted.
  const latest = new ChunkHashes(header.size, header.chunkBytes);
  for (const entry of entries) if (entry.index < latest.count) latest.set(entry.index, entry.hash);
  const buffer = Buffer.allocUnsafe(Math.min(header.chunkBytes, 1024 * 1024));
  const kept: ChunkEntry[] = [];
  for (const { index, hash } of latest.entries()) {
    const length = latest.lengthOf(index);
    const hasher = createHash('sha256');
    let done = 0;
    while (done < length) {
      const { bytesRead } = await data.read(
        buffer,
        0,
        Math.min(buffer.length, length - done),
        index * header.chunkBytes + done,
      );
      if (bytesRead === 0) break;
      hasher.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
    }
    if (done === length && hasher.digest().equals(hash)) kept.push({ index, hash });
  }
  return kept;
}
