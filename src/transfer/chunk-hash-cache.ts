import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ChunkHashes, PROTOCOL_VERSION } from '../protocol/index.js';
import { ChunkLog, type ChunkEntry } from './chunk-log.js';
import type { SourceFile } from './source-file.js';

/** Entries a cache file may carry beyond one per chunk (chunks hashed again) before it is started again. */
const MAX_EXTRA_RECORDS = 64;

/**
 * The client's memory of chunk hashes it computed while sending a file, so a resume can check the
 * server's held chunks (PROTOCOL.md §5.4) without reading them again. An entry is used only while the
 * file's identity (device, inode, size, mtime and ctime in nanoseconds) is unchanged; any write to the
 * file moves its ctime and voids the cache. It is a cache, not a proof: the server re-verifies its own
 * bytes, and a stale hash can only make the held-digest check fail, which restarts the transfer.
 */
export class ChunkHashCache {
  readonly #log: ChunkLog;
  readonly #known: ChunkHashes;

  private constructor(log: ChunkLog, known: ChunkHashes) {
    this.#log = log;
    this.#known = known;
  }

  /** Opens (or starts) the cache for `localPath` sent with `chunkBytes`. */
  static async open(
    cacheDir: string,
    localPath: string,
    source: SourceFile,
    chunkBytes: number,
  ): Promise<ChunkHashCache> {
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    const key = createHash('sha256')
      .update(resolve(localPath))
      .update(`\0${chunkBytes}`)
      .digest('hex')
      .slice(0, 32);
    const path = join(cacheDir, `${key}.hashes`);
    // The protocol version names how a chunk hash is computed (PROTOCOL.md §7.2): a cache written by another
    // version holds hashes of another kind, so it starts empty rather than failing the held-digest check.
    const header = Buffer.concat([source.identity, Buffer.from(`v${PROTOCOL_VERSION}:${chunkBytes}`)]);
    const known = new ChunkHashes(source.size, chunkBytes);
    // Issue 14: a cache for this very file is appended to as it stands, not rewritten (a resume's first
    // step). Otherwise (another version of the file, a torn tail, grown past one entry per chunk plus a
    // margin) it is rewritten with the intact entries it has for this version, if any.
    const reopened = await ChunkLog.reopen(path, { durable: false }).catch(() => undefined);
    let entries: readonly ChunkEntry[];
    let log: ChunkLog;
    if (
      reopened?.decoded.header.equals(header) === true &&
      reopened.decoded.records <= known.count + MAX_EXTRA_RECORDS
    ) {
      ({ log } = reopened);
      entries = reopened.decoded.entries;
    } else {
      await reopened?.log.close();
      const previous = await ChunkLog.load(path);
      entries = previous?.header.equals(header) ? previous.entries : [];
      // A temporary of this opening's own: two senders of one file from one home (to two servers at once)
      // rewrite the same cache, and a shared temporary name had one remove the other's before its rename
      // (ENOENT, the send failed). The last rename wins; the other appends to a file no longer named, which
      // a cache can afford.
      const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      log = await ChunkLog.create(path, header, entries, { durable: false, temporary });
    }
    // A cache is never trusted to be well formed: an entry past the file's end is skipped, not an error.
    for (const entry of entries) if (entry.index < known.count) known.set(entry.index, entry.hash);
    return new ChunkHashCache(log, known);
  }

  /** The cached hash of chunk `index`, if any. */
  get(index: number): Buffer | undefined {
    return this.#known.get(index);
  }

  /** Remembers a hash just computed from the file. */
  async record(entry: ChunkEntry): Promise<void> {
    if (this.#known.get(entry.index)?.equals(entry.hash)) return;
    this.#known.set(entry.index, entry.hash);
    await this.#log.append([entry]);
  }

  /** Closes, keeping the cache for a later resume. */
  async close(): Promise<void> {
    await this.#log.close();
  }

  /**
   * Deletes the cache once the transfer is complete, and the shared-name temporary a build before per-opening
   * temporaries may have left.
   */
  async remove(): Promise<void> {
    await this.#log.remove();
    await rm(ChunkLog.temporaryOf(this.#log.path), { force: true });
  }
}
