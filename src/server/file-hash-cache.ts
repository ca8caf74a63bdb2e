import { lstat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { ChunkHashes, ChunkSet } from '../protocol/index.js';
import { hashChunks, Wakeup, type ChunkSource } from '../transfer/index.js';
import { FileDigestMemo } from './file-digest-memo.js';
import { HashBudget } from './hash-budget.js';

/** Default memory for cached chunk hashes: one million chunk hashes (e.g. 4 TiB of files in 4 MiB chunks). */
export const FILE_HASH_CACHE_BYTES = 32 * 1024 * 1024;

/** The read buffer of `hashStriped` (as `hashChunks`'): a chunk is read in pieces of at most this. */
const HASH_SCRATCH_BYTES = 1024 * 1024;

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
  readonly #entries = new Map<string, ChunkHashes>();
  readonly #maxBytes: number;
  #bytes = 0;
  /** Bytes read and hashed for checks, i.e. what the cache did not answer (for tests and benchmarks). */
  hashedBytes = 0;
  /** Bytes a striped download's end digest read again, i.e. what the cache did not answer (`hashStriped`). */
  stripeHashedBytes = 0;

  /** The file digests downloads took last, by client and table (a claim after a signing hashes none). */
  readonly digests = new FileDigestMemo();

  readonly #budget: HashBudget;
  /** Joined stripes sending now, by client and file version: what `hashStriped` waits for. */
  readonly #sending = new Map<string, { stripes: number; readonly recorded: Wakeup }>();

  constructor(maxBytes: number = FILE_HASH_CACHE_BYTES, budget: HashBudget = new HashBudget()) {
    this.#maxBytes = maxBytes;
    this.#budget = budget;
  }

  /**
   * The hashes of `chunks` of `source` (opened from `path`), written into `hashes` (of `source`'s size) as
   * `hashChunks` does, reading only the chunks the cache does not hold, and only once `client` has the
   * budget for them.
   */
  async hashChunks(
    client: Buffer,
    source: ChunkSource,
    path: string,
    chunks: Iterable<number>,
    hashes: ChunkHashes,
    signal?: AbortSignal,
  ): Promise<void> {
    const key = keyOf(source, hashes.chunkBytes);
    const entry = this.#entries.get(key);
    // Sets, not lists: a delta download's claim names 16,384 leaves of a 1 GiB file, which the cache answers
    // run by run (issue 16: ~10 ms of the server's main thread before its answer, chunk by chunk).
    const wanted = chunkSetOf(hashes.count, chunks);
    const missing = entry === undefined ? wanted : entry.unknownOf(wanted);
    // What the cache cannot answer is paid from the client's budget first (HashBudget).
    const missingBytes = hashes.bytesOf(missing);
    await this.#budget.spend(client.toString('hex'), missingBytes, signal);
    if (entry !== undefined && missing.count < wanted.count) hashes.copyFrom(entry, wanted.without(missing));
    await hashChunks(source, missing, hashes);
    this.hashedBytes += missingBytes;
    if (missing.count > 0) await this.#remember(key, source, path, hashes, missing);
    else if (entry) this.#touch(key, entry);
  }

  /**
   * Pays, from `client`'s budget, for hashing done elsewhere that sent no data: re-verifying the chunks a
   * resumed upload's partial holds (PROTOCOL.md §9.2), which every offer of that transfer repeats.
   */
  async spend(client: Buffer, bytes: number, signal?: AbortSignal): Promise<void> {
    await this.#budget.spend(client.toString('hex'), bytes, signal);
    // Counted once paid, as `hashChunks` counts once hashed: the work follows, never precedes, the payment,
    // and a request whose wait ended with its client hashed nothing (counted before, it looked as if a
    // signing had hashed its file before waiting).
    this.hashedBytes += bytes;
  }

  /**
   * The hashes of `chunks` for the end digest of a striped download's primary stripe (PROTOCOL.md §5.13.6):
   * the chunks the other stripes sent, which they remember here as they send them (`remember`), so only
   * those not found are read again. While another stripe of `client` for this version of the file still
   * sends here (`stripeSending`), a chunk not found yet is waited for rather than read: the primary finishes
   * its own share first (its session was there first) and the client needs every stripe anyway. Before, the
   * primary read and hashed them all: with 16 streams, 15/16 of the file a second time on its main thread
   * (0.6 of its 1.5 CPU s per GiB, get --streams 16). A chunk it does read is one no stripe sent: hashing
   * that sends no data, paid from `client`'s budget before it is read (else stripe 0 of 16 alone makes the
   * server read 16 times what it sends, unpaid).
   */
  async hashStriped(
    client: Buffer,
    source: ChunkSource,
    chunks: Iterable<number>,
    hashes: ChunkHashes,
    signal?: AbortSignal,
  ): Promise<void> {
    const key = keyOf(source, hashes.chunkBytes);
    const live = `${client.toString('hex')}:${key}`;
    // A table larger than the whole cache is never remembered: nothing to wait for.
    const waits = ChunkHashes.tableBytes(source.size, hashes.chunkBytes) <= this.#maxBytes;
    let scratch: Buffer | undefined;
    for (const index of chunks) {
      for (;;) {
        const known = this.#entries.get(key)?.get(index);
        if (known !== undefined) {
          hashes.set(index, known);
          break;
        }
        const sending = waits ? this.#sending.get(live) : undefined;
        if (sending !== undefined) {
          await sending.recorded.next();
          continue;
        }
        await this.#budget.spend(client.toString('hex'), hashes.lengthOf(index), signal);
        // The wait may have let a stripe remember it meanwhile; paid already, it is read anyway.
        scratch ??= Buffer.allocUnsafe(Math.min(hashes.chunkBytes, HASH_SCRATCH_BYTES));
        hashes.set(index, await source.chunkHash(index, hashes.chunkBytes, scratch));
        this.stripeHashedBytes += hashes.lengthOf(index);
        break;
      }
    }
  }

  /**
   * A joined stripe of `client` starts sending `source` in chunks of `chunkBytes` (see `hashStriped`): it
   * calls `recorded` after each `remember` of its chunks and `ended` once it sends no more (always, failed
   * or not: a primary waits while it is not called).
   */
  stripeSending(
    client: Buffer,
    source: ChunkSource,
    chunkBytes: number,
  ): { readonly recorded: () => void; readonly ended: () => void } {
    const live = `${client.toString('hex')}:${keyOf(source, chunkBytes)}`;
    let sending = this.#sending.get(live);
    if (sending === undefined) {
      sending = { stripes: 0, recorded: new Wakeup() };
      this.#sending.set(live, sending);
    }
    const mine = sending;
    mine.stripes++;
    let over = false;
    return {
      recorded: () => mine.recorded.wake(),
      ended: () => {
        if (over) return;
        over = true;
        if (--mine.stripes === 0) this.#sending.delete(live);
        mine.recorded.wake();
      },
    };
  }

  /** Remembers the hashes of `indexes` (held by `hashes`), which a stripe of a download just sent. */
  async remember(
    source: ChunkSource,
    path: string,
    hashes: ChunkHashes,
    indexes: Iterable<number>,
  ): Promise<void> {
    await this.#remember(keyOf(source, hashes.chunkBytes), source, path, hashes, indexes);
  }

  /** Remembers every chunk hash of a file just streamed whole (a later check of it then reads nothing). */
  async rememberAll(source: ChunkSource, path: string, hashes: ChunkHashes): Promise<void> {
    await this.#remember(keyOf(source, hashes.chunkBytes), source, path, hashes, hashes.allChunks());
  }

  async #remember(
    key: string,
    source: ChunkSource,
    path: string,
    hashes: ChunkHashes,
    indexes: Iterable<number>,
  ): Promise<void> {
    const tableBytes = ChunkHashes.tableBytes(source.size, hashes.chunkBytes);
    if (tableBytes > this.#maxBytes) return;
    // Only if the file is still the one we opened: a write during hashing moved its ctime.
    if (!(await stillIs(path, source.identity))) return;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = new ChunkHashes(source.size, hashes.chunkBytes);
      this.#bytes += tableBytes;
    }
    // Run by run: a signing's end remembers every leaf of its file (issue 16: 16,384 for 1 GiB, ~17 ms of the
    // server's main thread before GET_END, hash by hash).
    entry.copyFrom(hashes, chunkSetOf(hashes.count, indexes));
    this.#touch(key, entry);
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldKey);
      this.#bytes -= ChunkHashes.tableBytes(old.size, old.chunkBytes);
    }
  }

  /** Moves `key` to the most recently used end. */
  #touch(key: string, entry: ChunkHashes): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }
}

/** `chunks` as a set of a table of `count` chunks (itself when it is one already). */
function chunkSetOf(count: number, chunks: Iterable<number>): ChunkSet {
  if (chunks instanceof ChunkSet) return chunks;
  const set = new ChunkSet(count);
  for (const index of chunks) set.add(index);
  return set;
}

/** The cache key of `source`'s version in chunks of `chunkBytes`. */
function keyOf(source: ChunkSource, chunkBytes: number): string {
  return `${source.identity.toString('hex')}:${chunkBytes}`;
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
