import { createHash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../errors/index.js';
import { HASH_BYTES } from '../protocol/index.js';
import { fsyncDir } from './fsync-dir.js';

/** One chunk and its hash. */
export interface ChunkEntry {
  readonly index: number;
  readonly hash: Buffer;
}

const MAGIC = Buffer.from('FERRYCL1', 'latin1');
const CHECK_BYTES = 4;
const MAX_HEADER_BYTES = 1024;
/** u32 index, chunk hash, check. */
const ENTRY_BYTES = 4 + HASH_BYTES + CHECK_BYTES;

function check(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, CHECK_BYTES);
}

function encodeHead(header: Buffer): Buffer {
  if (header.length > MAX_HEADER_BYTES)
    throw new FerryError('INTERNAL', `chunk log header of ${header.length} bytes`);
  const body = Buffer.concat([MAGIC, Buffer.from([header.length >> 8, header.length & 0xff]), header]);
  return Buffer.concat([body, check(body)]);
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
 * A file of chunk hashes: a checked header (opaque to this class: what the chunks belong to) and an
 * append-only log of checked entries. Appending is the only update, so a crash mid-append leaves at worst
 * a torn last entry, which `load` drops: the log always reads as either the old or the new state
 * (PROTOCOL.md §9.2). Used durably for the server's partial transfers and loosely for the client's cache.
 */
export class ChunkLog {
  readonly path: string;
  readonly #durable: boolean;
  #handle: FileHandle | undefined;
  #length: number;

  private constructor(path: string, handle: FileHandle, length: number, durable: boolean) {
    this.path = path;
    this.#handle = handle;
    this.#length = length;
    this.#durable = durable;
  }

  /**
   * Writes a new log with `header` and `entries` (through a temporary file and a rename, so an old log is
   * replaced atomically) and opens it for appending. `durable` flushes every write to stable storage.
   */
  static async create(
    path: string,
    header: Buffer,
    entries: readonly ChunkEntry[],
    options: { durable: boolean },
  ): Promise<ChunkLog> {
    const tmp = `${path}.tmp`;
    const body = Buffer.concat([encodeHead(header), encodeEntries(entries)]);
    const tmpHandle = await open(tmp, 'w', 0o600);
    try {
      await tmpHandle.writeFile(body);
      if (options.durable) await tmpHandle.sync();
    } finally {
      await tmpHandle.close();
    }
    await rename(tmp, path);
    if (options.durable) await fsyncDir(dirname(path));
    const handle = await open(path, 'r+');
    return new ChunkLog(path, handle, body.length, options.durable);
  }

  /**
   * Reads a log. Returns undefined when there is none or its header is damaged. A torn or damaged entry
   * ends the log there: entries after it are not trusted.
   */
  static async load(path: string): Promise<{ header: Buffer; entries: ChunkEntry[] } | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readAll(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (bytes.length < MAGIC.length + 2 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const headerLength = bytes.readUInt16BE(MAGIC.length);
    const headEnd = MAGIC.length + 2 + headerLength;
    if (headerLength > MAX_HEADER_BYTES || bytes.length < headEnd + CHECK_BYTES) return undefined;
    if (!check(bytes.subarray(0, headEnd)).equals(bytes.subarray(headEnd, headEnd + CHECK_BYTES)))
      return undefined;
    const header = Buffer.from(bytes.subarray(MAGIC.length + 2, headEnd));
    const entries: ChunkEntry[] = [];
    for (let at = headEnd + CHECK_BYTES; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
      const body = bytes.subarray(at, at + 4 + HASH_BYTES);
      if (!check(body).equals(bytes.subarray(at + 4 + HASH_BYTES, at + ENTRY_BYTES))) break;
      entries.push({ index: body.readUInt32BE(0), hash: Buffer.from(body.subarray(4)) });
    }
    return { header, entries };
  }

  /** Appends entries; a durable log is flushed to stable storage before this resolves. */
  async append(entries: readonly ChunkEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const handle = this.#handle;
    if (!handle) throw new FerryError('INTERNAL', 'chunk log is closed');
    const bytes = encodeEntries(entries);
    const at = this.#length;
    this.#length += bytes.length;
    await handle.write(bytes, 0, bytes.length, at);
    if (this.#durable) await handle.datasync();
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
}

async function readAll(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
