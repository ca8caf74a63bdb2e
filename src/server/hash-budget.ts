/** Default rate at which one client's budget for hashing that sends no data refills. */
export const CHECK_HASH_BYTES_PER_SECOND = 512 * 1024 * 1024;
/** Default budget one client may spend at once before it is slowed to the rate above. */
export const CHECK_HASH_BURST_BYTES = 4 * 1024 * 1024 * 1024;

export interface HashBudgetOptions {
  bytesPerSecond?: number;
  burstBytes?: number;
  /** The clock and the wait, injected by tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A per-client token bucket for the server's hashing that sends no file data (VERIFY_ONLY, held claims,
 * EXISTING; see FileHashCache). The cache keeps the same bytes from being hashed twice; this bounds the
 * rest (distinct files, chunk sizes, cache evictions): past its burst, a client's checks wait so that on
 * average it causes at most `bytesPerSecond` of such hashing, however many requests it pipelines. Waiting
 * rather than refusing keeps an honest client's large verification correct, only slower.
 */
export class HashBudget {
  readonly #bytesPerSecond: number;
  readonly #burstBytes: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Per client (hex key): tokens left (negative while waits are owed) and when they were counted. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: HashBudgetOptions = {}) {
    this.#bytesPerSecond = options.bytesPerSecond ?? CHECK_HASH_BYTES_PER_SECOND;
    this.#burstBytes = options.burstBytes ?? CHECK_HASH_BURST_BYTES;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  /** Spends `bytes` of `client`'s budget, first waiting as long as the bucket is in debt. */
  async spend(client: string, bytes: number): Promise<void> {
    if (bytes <= 0) return;
    const now = this.#now();
    const bucket = this.#buckets.get(client) ?? { tokens: this.#burstBytes, at: now };
    bucket.tokens = Math.min(
      this.#burstBytes,
      bucket.tokens + ((now - bucket.at) * this.#bytesPerSecond) / 1000,
    );
    bucket.at = now;
    bucket.tokens -= bytes;
    // Bounded memory: a client whose bucket is full again needs no entry.
    this.#buckets.set(client, bucket);
    if (bucket.tokens < 0) await this.#sleep(Math.ceil((-bucket.tokens * 1000) / this.#bytesPerSecond));
    for (const [key, b] of this.#buckets)
      if (b.tokens + ((this.#now() - b.at) * this.#bytesPerSecond) / 1000 >= this.#burstBytes)
        this.#buckets.delete(key);
  }
}
