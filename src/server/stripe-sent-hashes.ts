import type { ChunkHashes } from '../protocol/index.js';
import type { ChunkSource } from '../transfer/index.js';
import type { FileHashCache } from './file-hash-cache.js';

/** File bytes of chunks sent between two records into the cache: one lstat (its identity check) each. */
export const STRIPE_REMEMBER_BYTES = 4 * 1024 * 1024;

/**
 * The hashes of the chunks one stripe of a download sent (PROTOCOL.md §5.13.6), recorded into the server's
 * hash cache every STRIPE_REMEMBER_BYTES and at the stripe's end, for the primary stripe's end digest
 * (`FileHashCache.hashStriped`), which otherwise reads and hashes every chunk the other stripes sent. The
 * cache keeps them only while the file is still the version opened (its own rule), so a hash is never
 * taken for another version. A record that fails is only a miss: the primary reads the chunk then. A joined
 * stripe (index > 0) tells the cache it sends while it lives, so the primary waits for its records rather
 * than reading (`FileHashCache.stripeSending`); `end` must be called whatever happens.
 */
export class StripeSentHashes {
  readonly #cache: FileHashCache;
  readonly #source: ChunkSource;
  readonly #path: string;
  readonly #hashes: ChunkHashes;
  #sent: number[] = [];
  #sentBytes = 0;
  #recording: Promise<void> = Promise.resolve();
  readonly #sending: ReturnType<FileHashCache['stripeSending']> | undefined;

  constructor(
    cache: FileHashCache,
    source: ChunkSource,
    path: string,
    hashes: ChunkHashes,
    joinedBy: Buffer | undefined,
  ) {
    this.#cache = cache;
    this.#source = source;
    this.#path = path;
    this.#hashes = hashes;
    this.#sending = joinedBy && cache.stripeSending(joinedBy, source, hashes.chunkBytes);
  }

  /** Chunk `index` was sent, its hash in `hashes`. */
  sent(index: number): void {
    this.#sent.push(index);
    this.#sentBytes += this.#hashes.lengthOf(index);
    if (this.#sentBytes >= STRIPE_REMEMBER_BYTES) void this.#record();
  }

  /** This stripe sends no more: records what is left, then lets a waiting primary go on. Idempotent. */
  async end(): Promise<void> {
    await this.#record();
    this.#sending?.ended();
  }

  #record(): Promise<void> {
    const indexes = this.#sent;
    this.#sent = [];
    this.#sentBytes = 0;
    if (indexes.length > 0)
      this.#recording = this.#recording
        .then(() => this.#cache.remember(this.#source, this.#path, this.#hashes, indexes))
        .catch(() => undefined)
        .then(() => this.#sending?.recorded());
    return this.#recording;
  }
}
