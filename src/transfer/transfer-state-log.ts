import { createHash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../errors/index.js';
import { HASH_BYTES } from '../protocol/index.js';
import { fsyncDir } from './fsync-dir.js';

/** What a transfer's partial bytes claim to be a copy of (PROTOCOL.md §9.2). */
export interface TransferHeader {
  readonly size: number;
  readonly mtimeMs: number;
  readonly chunkBytes: number;
}

/** One verified, durable chunk. */
export interface ChunkEntry {
  readonly index: number;
  readonly hash: Buffer;
}

const MAGIC = Buffer.from('FERRYST1', 'latin1');
const CHECK_BYTES = 4;
/** magic, u64 size, u64 mtimeMs, u32 chunkBytes, check. */
const HEADER_BYTES = MAGIC.length + 8 + 8 + 4 + CHECK_BYTES;
/** u32 index, chunk hash, check. */
const ENTRY_BYTES = 4 + HASH_BYTES + CHECK_BYTES;

function check(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, CHECK_BYTES);
}

function encodeHeader(header: TransferHeader): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(out, 0);
  out.writeBigUInt64BE(BigInt(header.size), 8);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(header.mtimeMs))), 16);
  out.writeUInt32BE(header.chunkBytes, 24);
  check(out.subarray(0, 28)).copy(out, 28);
  return out;
}

function encodeEntries(entries: readonly ChunkEntry[]): Buffer {
  const out = Buffer.alloc(entries.length * ENTRY_BYTES);
  entries.forEach((entry, i) => {
    const at = i * ENTRY_BYTES;
    out.writeUInt32BE(entry.index, at);
    entry.hash.copy(out, at + 4);
    check(out.subarray(at, at + 4 + HASH_BYTES)).copy(out, at + 4 + HASH_BYTES);
  });
  return out;
}

/**
 * The durable record of a transfer's verified chunks: a checked header and an append-only log of
 * checked entries (PROTOCOL.md §9.2). Appending is the only update, so a crash mid-append leaves at
 * worst a torn last entry, which `load` drops: the log is always either the old or the new state.
 */
export class TransferStateLog {
  readonly path: string;
  #handle: FileHandle | undefined;
  #length: number;

  private constructor(path: string, handle: FileHandle, length: number) {
    this.path = path;
    this.#handle = handle;
    this.#length = length;
  }

  /**
   * Writes a new log holding `header` and `entries` (via a temporary file, fsync and rename, so an old
   * log is replaced atomically) and opens it for appending.
   */
  static async create(path: string, header: TransferHeader, entries: readonly ChunkEntry[] = []): Promise<TransferStateLog> {
    const tmp = `${path}.tmp`;
    const body = Buffer.concat([encodeHeader(header), encodeEntries(entries)]);
    const tmpHandle = await open(tmp, 'w', 0o600);
    try {
      await tmpHandle.writeFile(body);
      await tmpHandle.sync();
    } finally {
      await tmpHandle.close();
    }
    await rename(tmp, path);
    await fsyncDir(dirname(path));
    const handle = await open(path, 'r+');
    return new TransferStateLog(path, handle, body.length);
  }

  /**
   * Reads a log. Returns undefined when there is none or its header is damaged (the transfer then starts
   * afresh). A torn or damaged entry ends the log there: entries after it are not trusted.
   */
  static async load(path: string): Promise<{ header: TransferHeader; entries: ChunkEntry[] } | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readAll(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC)) return undefined;
    if (!check(bytes.subarray(0, 28)).equals(bytes.subarray(28, HEADER_BYTES))) return undefined;
    const header: TransferHeader = {
      size: Number(bytes.readBigUInt64BE(8)),
      mtimeMs: Number(bytes.readBigUInt64BE(16)),
      chunkBytes: bytes.readUInt32BE(24),
    };
    const entries: ChunkEntry[] = [];
    for (let at = HEADER_BYTES; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
      const body = bytes.subarray(at, at + 4 + HASH_BYTES);
      if (!check(body).equals(bytes.subarray(at + 4 + HASH_BYTES, at + ENTRY_BYTES))) break;
      entries.push({ index: body.readUInt32BE(0), hash: Buffer.from(body.subarray(4)) });
    }
    return { header, entries };
  }

  /** Appends entries and flushes the log to stable storage; only then do they count. */
  async append(entries: readonly ChunkEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const handle = this.#open();
    const bytes = encodeEntries(entries);
    await handle.write(bytes, 0, bytes.length, this.#length);
    this.#length += bytes.length;
    await handle.datasync();
  }

  /** Closes the file (keeping it). Idempotent. */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  /** Closes and deletes the log. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }

  #open(): FileHandle {
    if (!this.#handle) throw new FerryError('INTERNAL', 'state log is closed');
    return this.#handle;
  }
}

async function readAll(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
