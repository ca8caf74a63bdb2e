/** Default rate at which one client's budget for hashing that sends no data refills. */
export const CHECK_HASH_BYTES_PER_SECOND = 512 * 1024 * 1024;
/** Default budget one client may spend at once before it is slowed to the rate above. */
export const CHECK_HASH_BURST_BYTES = 4 * 1024 * 1024 * 1024;
/**
 * Default rate at which the server's budget for such hashing, shared by every client, refills: two clients'
 * worth, about one core's SHA-256 here, so clients under many keys cannot take every core between them.
 */
export const CHECK_HASH_TOTAL_BYTES_PER_SECOND = 2 * CHECK_HASH_BYTES_PER_SECOND;
/** Default shared budget spent at once before every client's checks are slowed to the total rate. */
export const CHECK_HASH_TOTAL_BURST_BYTES = 2 * CHECK_HASH_BURST_BYTES;

export interface HashBudgetOptions {
  bytesPerSecond?: number;
  burstBytes?: number;
  /** The server's budget shared by every client (defaults above). */
  totalBytesPerSecond?: number;
  totalBurstBytes?: number;
  /** The clock and the wait, injected by tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Tokens left (negative while waits are owed) and when they were counted. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets for the server's hashing that sends no file data (VERIFY_ONLY, held claims, EXISTING, a delta
 * upload's signature; see FileHashCache): one per client and one the clients share. The cache keeps the same
 * bytes from being hashed twice; this bounds the rest (distinct files, chunk sizes, cache evictions): past
 * its burst, a client's checks wait so that on average it causes at most `bytesPerSecond` of such hashing,
 * however many requests it pipelines, and all clients together at most `totalBytesPerSecond`, however many
 * keys they hold. Waiting rather than refusing keeps an honest client's large verification correct, only
 * slower.
 */
export class HashBudget {
  readonly #bytesPerSecond: number;
  readonly #burstBytes: number;
  readonly #totalBytesPerSecond: number;
  readonly #totalBurstBytes: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Per client (hex key). */
  readonly #buckets = new Map<string, Bucket>();
  #total: Bucket | undefined;

  constructor(options: HashBudgetOptions = {}) {
    this.#bytesPerSecond = options.bytesPerSecond ?? CHECK_HASH_BYTES_PER_SECOND;
    this.#burstBytes = options.burstBytes ?? CHECK_HASH_BURST_BYTES;
    this.#totalBytesPerSecond = options.totalBytesPerSecond ?? CHECK_HASH_TOTAL_BYTES_PER_SECOND;
    this.#totalBurstBytes = options.totalBurstBytes ?? CHECK_HASH_TOTAL_BURST_BYTES;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  /**
   * Spends `bytes` of `client`'s budget and of the shared one, first waiting as long as either is in debt
   * (the longer of the two waits).
   */
  async spend(client: string, bytes: number): Promise<void> {
    if (bytes <= 0) return;
    const now = this.#now();
    const bucket = this.#buckets.get(client) ?? { tokens: this.#burstBytes, at: now };
    const total = (this.#total ??= { tokens: this.#totalBurstBytes, at: now });
    const wait = Math.max(
      take(bucket, bytes, now, this.#bytesPerSecond, this.#burstBytes),
      take(total, bytes, now, this.#totalBytesPerSecond, this.#totalBurstBytes),
    );
    // Bounded memory: a client whose bucket is full again needs no entry.
    this.#buckets.set(client, bucket);
    if (wait > 0) await this.#sleep(wait);
    for (const [key, b] of this.#buckets)
      if (b.tokens + ((this.#now() - b.at) * this.#bytesPerSecond) / 1000 >= this.#burstBytes)
        this.#buckets.delete(key);
  }
}

/** Refills `bucket` to `now`, takes `bytes` from it and returns how long its debt takes to repay, in ms. */
function take(
  bucket: Bucket,
  bytes: number,
  now: number,
  bytesPerSecond: number,
  burstBytes: number,
): number {
  bucket.tokens = Math.min(burstBytes, bucket.tokens + ((now - bucket.at) * bytesPerSecond) / 1000);
  bucket.at = now;
  bucket.tokens -= bytes;
  return bucket.tokens < 0 ? Math.ceil((-bucket.tokens * 1000) / bytesPerSecond) : 0;
}
