import { createHash, type Hash } from 'node:crypto';
import { link, open, realpath, rename, rm, utimes, type FileHandle } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { FerryError } from '../errors/index.js';
import {
  ChunkSet,
  HASH_BYTES,
  chunkCount,
  chunkLength,
  fileDigest,
  haveDigest,
  type ChunkRange,
} from '../protocol/index.js';
import { fsyncDir } from './fsync-dir.js';
import { fsTimeOf } from './fs-names.js';
import { BatchedWriter } from './batched-writer.js';
import { assertWritableTarget, type RootPath } from './root-path.js';
import { ChunkLog, type ChunkEntry } from './chunk-log.js';

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
/** Chunks that may be open (receiving data) at once in one transfer: room for 16 streams and then some. */
export const MAX_OPEN_CHUNKS = 64;
/** Files get at most these permission bits (PROTOCOL.md §5.3): never setuid, setgid or group/world write. */
const FILE_MODE_LIMIT = 0o755;

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
}

/**
 * The receiving side of one transfer: a partial file plus its state log. It accepts chunk data in the
 * order PROTOCOL.md §5.5 requires, checks every chunk hash, makes verified chunks durable in batches
 * (data fdatasync first, then the log entry), and finishes with a digest check and an atomic rename.
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
  readonly #count: number;
  /** Chunks verified and durable. */
  readonly #held: ChunkSet;
  /** Chunk hashes by index, 32 bytes each; valid where #held or #pending has the index. */
  readonly #hashes: Buffer;
  readonly #batchBytes: number;
  readonly #onDurable: ((verifiedBytes: number) => void) | undefined;
  #pending: ChunkEntry[] = [];
  #pendingBytes = 0;
  #flushing: Promise<void> = Promise.resolve();
  #verifiedBytes = 0;
  #flushError: Error | undefined;
  /** Chunks being received, by index: several at once when parallel streams share the transfer. */
  readonly #open = new Map<number, { position: number; end: number; hash: Hash }>();
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
    this.#count = chunkCount(options.size, options.chunkBytes);
    this.#held = new ChunkSet(this.#count);
    this.#hashes = Buffer.alloc(this.#count * HASH_BYTES);
    this.#batchBytes = options.durableBatchBytes ?? DURABLE_BATCH_BYTES;
    this.#onDurable = options.onDurable;
    for (const entry of held) {
      this.#held.add(entry.index);
      entry.hash.copy(this.#hashes, entry.index * HASH_BYTES);
      this.#verifiedBytes += chunkLength(entry.index, options.size, options.chunkBytes);
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
    const matches = previous !== undefined && previous.header.equals(header);
    const restarted = previous !== undefined && !matches;
    // O_NOFOLLOW: the partial directory is ours, but never write through a link someone planted there.
    const flags =
      fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW | (matches ? 0 : fsConstants.O_TRUNC);
    const data = await open(dataPath, flags, 0o600);
    try {
      const held = matches
        ? (options.verified ?? (await verifiedEntries(data, previous.entries, options)))
        : [];
      // Sized up front so chunks can land at any offset; a one-chunk file is written whole from 0 (and
      // O_TRUNC emptied it), so it skips the call.
      if (logged) await data.truncate(options.size);
      // Rewritten even on resume: drops entries that failed re-verification and any torn tail.
      const log = logged ? await ChunkLog.create(logPath, header, held, { durable: true }) : undefined;
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
      data = await open(paths.dataPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
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
    return haveDigest([...this.#held].map((i) => this.#hashOf(i)));
  }

  /**
   * Writes a data payload at its offset, enforcing PROTOCOL.md §5.5.1: each chunk's data arrives in order
   * and without gaps from its first byte; several chunks may be open at once (parallel streams, §5.13), at
   * most MAX_OPEN_CHUNKS, so a peer cannot make us hold a hash state per chunk of a huge file.
   */
  async writeData(offset: number, data: Buffer): Promise<void> {
    if (this.#flushError !== undefined) throw this.#flushError;
    const { size, chunkBytes } = this.header;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) {
      throw new FerryError('MESSAGE_MALFORMED', `offset ${offset} is outside the file of ${size} bytes`);
    }
    const index = Math.floor(offset / chunkBytes);
    let current = this.#open.get(index);
    if (!current) {
      if (offset % chunkBytes !== 0) {
        throw new FerryError('MESSAGE_MALFORMED', `offset ${offset} does not start a chunk`);
      }
      if (this.#open.size >= MAX_OPEN_CHUNKS) {
        throw new FerryError('MESSAGE_MALFORMED', `more than ${MAX_OPEN_CHUNKS} chunks open at once`);
      }
      current = {
        position: offset,
        end: offset + chunkLength(index, size, chunkBytes),
        hash: createHash('sha256'),
      };
      this.#open.set(index, current);
    }
    if (offset !== current.position) {
      throw new FerryError('MESSAGE_MALFORMED', `expected offset ${current.position}, got ${offset}`);
    }
    if (offset + data.length > current.end) {
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `data at ${offset} of ${data.length} bytes crosses the chunk end ${current.end}`,
      );
    }
    current.hash.update(data);
    current.position += data.length;
    await this.#writer.write(data, offset);
  }

  /** Closes a chunk whose data is all written: its hash must match (PROTOCOL.md §5.5.2). */
  completeChunk(index: number, chunkHash: Buffer): void {
    const current = this.#open.get(index);
    if (!current || current.position !== current.end) {
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${index} is not complete`);
    }
    this.#open.delete(index);
    const actual = current.hash.digest();
    if (!actual.equals(chunkHash)) throw new FerryError('CHUNK_MISMATCH', `chunk ${index}`);
    const length = current.end - index * this.header.chunkBytes;
    if (this.#held.has(index)) {
      // A re-sent chunk (PROTOCOL.md §5.5.3) counts again only once its new bytes are durable.
      this.#held.delete(index);
      this.#verifiedBytes -= length;
    }
    actual.copy(this.#hashes, index * HASH_BYTES);
    this.#pending.push({ index, hash: actual });
    this.#pendingBytes += length;
    if (this.#pendingBytes >= this.#batchBytes) this.#startFlush();
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
    const unfinished = this.#open.keys().next();
    if (!unfinished.done)
      throw new FerryError('MESSAGE_MALFORMED', `chunk ${unfinished.value} was not completed`);
    this.#startFlush();
    await this.#flushing;
    await this.#writer.flush();
    if (this.#held.count !== this.#count) {
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `${this.#count - this.#held.count} of ${this.#count} chunks missing at end`,
      );
    }
    const hashes = Array.from({ length: this.#count }, (_, i) => this.#hashOf(i));
    const digest = fileDigest(this.header.size, this.header.chunkBytes, hashes);
    if (!digest.equals(expectedDigest)) {
      // Every chunk matched its hash yet the whole does not: the chunks are from different versions of the
      // source. Keeping them would fail every resume the same way, so the partial goes.
      await this.discard();
      throw new FerryError('DIGEST_MISMATCH');
    }
    await this.#data.chmod(options.mode & FILE_MODE_LIMIT);
    await this.#data.sync();
    await this.#data.close();
    this.#closed = true;
    await utimes(this.#dataPath, Date.now() / 1000, fsTimeOf(options.mtimeMs ?? this.header.mtimeMs));
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
    return digest;
  }

  /** Flushes what is verified and closes the files, keeping them for a later resume. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#open.clear();
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
  }

  #hashOf(index: number): Buffer {
    return this.#hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
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

/** Re-hashes each logged chunk from disk and keeps only those whose bytes still match. */
async function verifiedEntries(
  data: FileHandle,
  entries: readonly ChunkEntry[],
  header: TransferHeader,
): Promise<ChunkEntry[]> {
  const count = chunkCount(header.size, header.chunkBytes);
  const latest = new Map<number, Buffer>();
  for (const entry of entries) if (entry.index < count) latest.set(entry.index, entry.hash);
  const buffer = Buffer.allocUnsafe(Math.min(header.chunkBytes, 1024 * 1024));
  const kept: ChunkEntry[] = [];
  for (const [index, hash] of [...latest].sort((a, b) => a[0] - b[0])) {
    const length = chunkLength(index, header.size, header.chunkBytes);
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
