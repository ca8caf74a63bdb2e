import { lstat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { ChunkSet, HASH_BYTES, chunkCount, chunkLength } from '../protocol/index.js';
import { hashHeldChunks, type SourceFile } from '../transfer/index.js';
import { HashBudget } from './hash-budget.js';

/** Default memory for cached chunk hashes: one million chunk hashes (e.g. 4 TiB of files in 4 MiB chunks). */
export const FILE_HASH_CACHE_BYTES = 32 * 1024 * 1024;

interface Entry {
  hashes: Buffer;
  known: ChunkSet;
}

/**
 * The server's memory of chunk hashes it computed for checks that send no file data: a VERIFY_ONLY or
 * resuming GET_REQUEST (PROTOCOL.md §5.11.2) and an EXISTING upload (§5.4). Without it, a few hundred bytes
 * of pipelined requests make the server read and hash a whole file each (docs/SECURITY.md "Hashing on
 * request"); with it, a file is hashed once per version and chunk size, however often it is asked about.
 *
 * An entry is keyed by the file's identity (device, inode, size, mtime and ctime in nanoseconds, as in
 * `SourceFile.identity`) and the chunk size, and is stored only if that identity still holds after hashing:
 * any write to the file moves its ctime, so a changed file is never answered from the cache. Memory is
 * bounded (least recently used entries go first).
 */
export class FileHashCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  #bytes = 0;
  /** Bytes read and hashed for checks, i.e. what the cache did not answer (for tests and benchmarks). */
  hashedBytes = 0;

  readonly #budget: HashBudget;

  constructor(maxBytes: number = FILE_HASH_CACHE_BYTES, budget: HashBudget = new HashBudget()) {
    this.#maxBytes = maxBytes;
    this.#budget = budget;
  }

  /**
   * The hashes of `chunks` of `source` (opened from `path`), written into `hashes` at `index * HASH_BYTES`
   * and returned in order, as `hashHeldChunks` does, reading only the chunks the cache does not hold, and
   * only once `client` has the budget for them.
   */
  async hashChunks(
    client: Buffer,
    source: SourceFile,
    path: string,
    chunks: Iterable<number>,
    chunkBytes: number,
    hashes: Buffer,
  ): Promise<Buffer[]> {
    const key = `${source.identity.toString('hex')}:${chunkBytes}`;
    const entry = this.#entries.get(key);
    // What the cache cannot answer is paid from the client's budget first (HashBudget).
    const wanted = [...chunks];
    let missingBytes = 0;
    for (const index of wanted)
      if (!entry?.known.has(index)) missingBytes += chunkLength(index, source.size, chunkBytes);
    await this.#budget.spend(client.toString('hex'), missingBytes);
    const computed: number[] = [];
    const list = await hashHeldChunks(source, wanted, chunkBytes, hashes, (index) => {
      if (entry?.known.has(index)) return entry.hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
      computed.push(index);
      return undefined;
    });
    for (const index of computed) this.hashedBytes += chunkLength(index, source.size, chunkBytes);
    if (computed.length > 0) await this.#remember(key, source, path, chunkBytes, hashes, computed);
    else if (entry) this.#touch(key, entry);
    return list;
  }

  /**
   * Pays, from `client`'s budget, for hashing done elsewhere that sent no data: re-verifying the chunks a
   * resumed upload's partial holds (PROTOCOL.md §9.2), which every offer of that transfer repeats.
   */
  async spend(client: Buffer, bytes: number): Promise<void> {
    this.hashedBytes += bytes;
    await this.#budget.spend(client.toString('hex'), bytes);
  }

  /** Remembers every chunk hash of a file just streamed whole (a later check of it then reads nothing). */
  async rememberAll(source: SourceFile, path: string, chunkBytes: number, hashes: Buffer): Promise<void> {
    const count = chunkCount(source.size, chunkBytes);
    const key = `${source.identity.toString('hex')}:${chunkBytes}`;
    await this.#remember(
      key,
      source,
      path,
      chunkBytes,
      hashes,
      Array.from({ length: count }, (_, i) => i),
    );
  }

  async #remember(
    key: string,
    source: SourceFile,
    path: string,
    chunkBytes: number,
    hashes: Buffer,
    indexes: number[],
  ): Promise<void> {
    const count = chunkCount(source.size, chunkBytes);
    const tableBytes = count * HASH_BYTES;
    if (tableBytes > this.#maxBytes) return;
    // Only if the file is still the one we opened: a write during hashing moved its ctime.
    if (!(await stillIs(path, source.identity))) return;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { hashes: Buffer.alloc(tableBytes), known: new ChunkSet(count) };
      this.#bytes += tableBytes;
    }
    for (const index of indexes) {
      hashes.copy(entry.hashes, index * HASH_BYTES, index * HASH_BYTES, (index + 1) * HASH_BYTES);
      entry.known.add(index);
    }
    this.#touch(key, entry);
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldKey);
      this.#bytes -= old.hashes.length;
    }
  }

  /** Moves `key` to the most recently used end. */
  #touch(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }
}

/** Whether `path` is still the file whose `SourceFile.identity` is `identity`. */
async function stillIs(path: string, identity: Buffer): Promise<boolean> {
  let st: BigIntStats;
  try {
    st = await lstat(path, { bigint: true });
  } catch {
    return false;
  }
  const now = Buffer.alloc(40);
  [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].forEach((v, i) =>
    now.writeBigUInt64BE(BigInt.asUintN(64, v), i * 8),
  );
  return now.equals(identity);
}
