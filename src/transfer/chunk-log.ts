import { createHash, type Hash } from 'node:crypto';
import { lstat, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../errors/index.js';
import { HASH_BYTES, sha256 } from '../protocol/index.js';
import type { ChunkEntry } from '../machines/index.js';
import { fsyncDir } from './fsync-dir.js';
import { openIfPresent } from './open-if-present.js';
import { openNoFollow } from './open-no-follow.js';
import { refuseUnlessOurs, writableOnlyByUs } from './writable-only-by-us.js';

// One type for a chunk and its hash, the receiver machine's: what it verified is what the log records.
export type { ChunkEntry };

const MAGIC = Buffer.from('FERRYCL1', 'latin1');
const CHECK_BYTES = 4;
const MAX_HEADER_BYTES = 1024;
/** u32 index, chunk hash, check. */
const ENTRY_BYTES = 4 + HASH_BYTES + CHECK_BYTES;
/**
 * The index of a closing record (PROTOCOL.md §9.2): never a chunk's (at most 2^20 chunks, §10), so a reader
 * that does not know the record drops it as an entry past the file's end.
 */
const CLOSING_INDEX = 0xffffffff;
const CLOSING_DOMAIN = Buffer.from('ferry-partial-closed-v1', 'latin1');
/** The bytes of a partial's identity (`identityOf`: dev, ino, size, mtime ns, ctime ns). */
export const PARTIAL_IDENTITY_BYTES = 40;

/**
 * A record's check: the first bytes of its SHA-256, one-shot (issue 16: a hash object per record took a
 * delta's receiver ~60 ms of its main thread and its collections per GiB, 16,384 records).
 */
function check(bytes: Buffer): Buffer {
  return sha256(bytes).subarray(0, CHECK_BYTES);
}

function encodeHead(header: Buffer): Buffer {
  if (header.length > MAX_HEADER_BYTES)
    throw new FerryError('INTERNAL', `chunk log header of ${header.length} bytes`);
  const body = Buffer.concat([MAGIC, Buffer.from([header.length >> 8, header.length & 0xff]), header]);
  return Buffer.concat([body, check(body)]);
}

function encodeRecord(out: Buffer, at: number, index: number, value: Buffer): void {
  out.writeUInt32BE(index, at);
  value.copy(out, at + 4);
  check(out.subarray(at, at + 4 + HASH_BYTES)).copy(out, at + 4 + HASH_BYTES);
}

function encodeEntries(entries: readonly ChunkEntry[]): Buffer {
  const out = Buffer.alloc(entries.length * ENTRY_BYTES);
  entries.forEach((entry, i) => encodeRecord(out, i * ENTRY_BYTES, entry.index, entry.hash));
  return out;
}

/**
 * What a closing record holds (PROTOCOL.md §9.2): `SHA-256("ferry-partial-closed-v1" || SHA-256(every log
 * byte before the record) || identity)`. It binds the partial's identity at close to exactly the header
 * and entries before it, so it vouches for no other log and no entry appended later.
 */
export function closingSeal(logDigest: Buffer, identity: Buffer): Buffer {
  if (identity.length !== PARTIAL_IDENTITY_BYTES)
    throw new FerryError('INTERNAL', `partial identity of ${identity.length} bytes`);
  return createHash('sha256').update(CLOSING_DOMAIN).update(logDigest).update(identity).digest();
}

/** A closing record (index 0xffffffff, the seal, a check) for a log whose bytes so far hash to `logDigest`. */
export function encodeClosingRecord(logDigest: Buffer, identity: Buffer): Buffer {
  const out = Buffer.alloc(ENTRY_BYTES);
  encodeRecord(out, 0, CLOSING_INDEX, closingSeal(logDigest, identity));
  return out;
}

/** A log as read: its header, its entries, and how it was closed. */
export interface DecodedChunkLog {
  readonly header: Buffer;
  /** The intact entries before the first damaged one, closing records left out. */
  readonly entries: ChunkEntry[];
  /**
   * When the last intact record is a closing record: its seal and the SHA-256 of every byte before it.
   * Undefined for a log that was not closed cleanly (a crash, a torn record) or written to after closing.
   */
  readonly closing: { readonly seal: Buffer; readonly logDigest: Buffer } | undefined;
  /** Bytes up to the end of the last intact record: the whole log unless it has a torn or damaged tail. */
  readonly intactBytes: number;
  /** Intact records after the header (entries and closing records). */
  readonly records: number;
}

/**
 * Decodes a log's bytes (pure: the format of PROTOCOL.md §9.2). Undefined when its head is damaged; a torn
 * or damaged record ends the log there, since nothing after it is trusted.
 */
export function decodeChunkLog(bytes: Buffer): DecodedChunkLog | undefined {
  if (bytes.length < MAGIC.length + 2 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const headerLength = bytes.readUInt16BE(MAGIC.length);
  const headEnd = MAGIC.length + 2 + headerLength;
  if (headerLength > MAX_HEADER_BYTES || bytes.length < headEnd + CHECK_BYTES) return undefined;
  if (!check(bytes.subarray(0, headEnd)).equals(bytes.subarray(headEnd, headEnd + CHECK_BYTES)))
    return undefined;
  const header = Buffer.from(bytes.subarray(MAGIC.length + 2, headEnd));
  const entries: ChunkEntry[] = [];
  let closingAt: number | undefined;
  let at = headEnd + CHECK_BYTES;
  let records = 0;
  for (; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
    const body = bytes.subarray(at, at + 4 + HASH_BYTES);
    if (!check(body).equals(bytes.subarray(at + 4 + HASH_BYTES, at + ENTRY_BYTES))) break;
    records++;
    const index = body.readUInt32BE(0);
    if (index === CLOSING_INDEX) {
      closingAt = at;
      continue;
    }
    closingAt = undefined;
    entries.push({ index, hash: Buffer.from(body.subarray(4)) });
  }
  const closing =
    closingAt === undefined
      ? undefined
      : {
          seal: Buffer.from(bytes.subarray(closingAt + 4, closingAt + 4 + HASH_BYTES)),
          logDigest: createHash('sha256').update(bytes.subarray(0, closingAt)).digest(),
        };
  return { header, entries, closing, intactBytes: at, records };
}

/**
 * Whether `log` was closed with exactly `identity` as its last record: the partial is then, byte for byte,
 * the one whose chunks the log lists (PROTOCOL.md §9.2). False for no closing record or another identity.
 */
export function closedAs(log: DecodedChunkLog, identity: Buffer): boolean {
  if (log.closing === undefined || identity.length !== PARTIAL_IDENTITY_BYTES) return false;
  return closingSeal(log.closing.logDigest, identity).equals(log.closing.seal);
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
  /** SHA-256 of every byte written so far, for a closing record's seal. */
  readonly #digest: Hash;

  private constructor(path: string, handle: FileHandle, body: Buffer, durable: boolean) {
    this.path = path;
    this.#handle = handle;
    this.#length = body.length;
    this.#durable = durable;
    this.#digest = createHash('sha256').update(body);
  }

  /**
   * Writes a new log with `header` and `entries` (through a temporary file and a rename, so an old log is
   * replaced atomically) and keeps it open for appending. `durable` flushes every write to stable storage.
   * Nothing is opened through a link: the temporary is made with O_EXCL | O_NOFOLLOW (a stale one is
   * removed only when it is ferry's own, see `identify`), and the file appended to is the one just written,
   * never reopened by name. An existing `path` that is not a regular file is refused, never replaced.
   * `temporary` names the temporary instead of `temporaryOf(path)`: a log that several processes may
   * rewrite at once (the client's chunk hash cache) needs one of its own per writer.
   */
  static async create(
    path: string,
    header: Buffer,
    entries: readonly ChunkEntry[],
    options: { durable: boolean; temporary?: string },
  ): Promise<ChunkLog> {
    const tmp = options.temporary ?? ChunkLog.temporaryOf(path);
    const body = Buffer.concat([encodeHead(header), encodeEntries(entries)]);
    if ((await ChunkLog.identify(path)) === 'other')
      throw new FerryError('FILE_EXISTS', 'something other than a file is in the way of a state file', {
        subject: path,
      });
    const handle = await createTemporary(tmp);
    try {
      await handle.writeFile(body);
      if (options.durable) await handle.sync();
      await rename(tmp, path);
    } catch (err) {
      await handle.close();
      await rm(tmp, { force: true });
      throw err;
    }
    if (options.durable) await fsyncDir(dirname(path));
    return new ChunkLog(path, handle, body, options.durable);
  }

  /**
   * Opens an existing log to append to it as it stands, instead of rewriting it (issue 14: a resume whose
   * log needs no change skips the temporary, its fsync, the rename and the directory's fsync). Read through
   * the handle that will be appended to (O_NOFOLLOW, a regular file only), so what the caller checks is
   * what grows. Undefined when there is nothing intact to append to: no log, a damaged head, or a torn or
   * damaged tail (an entry appended after one would never be read back).
   */
  static async reopen(
    path: string,
    options: { durable: boolean },
  ): Promise<{ log: ChunkLog; decoded: DecodedChunkLog } | undefined> {
    const handle = await openIfPresent(path);
    if (handle === undefined) return undefined;
    try {
      const bytes = await handle.readFile();
      const decoded = decodeChunkLog(bytes);
      if (decoded === undefined || decoded.intactBytes !== bytes.length) {
        await handle.close();
        return undefined;
      }
      return { log: new ChunkLog(path, handle, bytes, options.durable), decoded };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** The temporary a log at `path` is written to before its rename (removed with the log's partial). */
  static temporaryOf(path: string): string {
    return `${path}.tmp`;
  }

  /**
   * What is at `path`, without following a link: `absent`; `ferry` for a regular file that is empty or
   * starts with this format's magic (a log, or one torn while it was first written); `foreign` for any
   * other regular file; `other` for a link, a directory or a special file. Lets a caller touch only what
   * ferry made (SECURITY.md, "Partials ferry did not make").
   */
  static async identify(path: string): Promise<'absent' | 'ferry' | 'foreign' | 'other'> {
    try {
      const stats = await lstat(path);
      if (!stats.isFile()) return 'other';
      // Another user's file (or one others may write) is never ferry's own, whatever it holds.
      if (!writableOnlyByUs(stats)) return 'foreign';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      throw err;
    }
    const handle = await openNoFollow(path, 'read');
    try {
      const head = Buffer.alloc(MAGIC.length);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      return head.subarray(0, bytesRead).equals(MAGIC.subarray(0, bytesRead)) ? 'ferry' : 'foreign';
    } finally {
      await handle.close();
    }
  }

  /**
   * Reads a log. Returns undefined when there is none or its header is damaged. A torn or damaged entry
   * ends the log there: entries after it are not trusted.
   */
  static async load(path: string): Promise<DecodedChunkLog | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readAll(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return decodeChunkLog(bytes);
  }

  /** Appends entries; a durable log is flushed to stable storage before this resolves. */
  async append(entries: readonly ChunkEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#write(encodeEntries(entries));
  }

  /**
   * Appends the closing record for a partial whose identity is `identity` (PROTOCOL.md §9.2) and closes
   * the log. The caller has made the partial's bytes durable and taken `identity` after that, so the
   * record only ever describes bytes that are on disk.
   */
  async closeWith(identity: Buffer): Promise<void> {
    await this.#write(encodeClosingRecord(this.#digest.copy().digest(), identity));
    await this.close();
  }

  async #write(bytes: Buffer): Promise<void> {
    const handle = this.#handle;
    if (!handle) throw new FerryError('INTERNAL', 'chunk log is closed');
    const at = this.#length;
    this.#length += bytes.length;
    this.#digest.update(bytes);
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

/** Makes the temporary with O_EXCL; a stale one of ferry's own (an interrupted create) is removed first. */
async function createTemporary(tmp: string): Promise<FileHandle> {
  try {
    return await openNoFollow(tmp, 'create');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if ((await ChunkLog.identify(tmp)) !== 'ferry')
    // The subject names the file in the way (this side's own path: never on the wire, PROTOCOL.md §5.1).
    throw new FerryError('FILE_EXISTS', 'a file ferry did not make is in the way of a state file', {
      subject: tmp,
      hint: '', // not the table's --overwrite, which would not remove it
    });
  await unlink(tmp);
  return openNoFollow(tmp, 'create');
}

async function readAll(path: string): Promise<Buffer> {
  const handle = await openNoFollow(path, 'read');
  try {
    // Checked through the handle read: a log swapped in after `identify` is refused too.
    refuseUnlessOurs(await handle.stat(), path);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
