import { untilAborted } from './until-aborted.js';
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

/** A {@link RateBudget}'s rates, in units of whatever it counts (bytes hashed, requests to a store). */
export interface RateBudgetOptions {
  perClientPerSecond: number;
  perClientBurst: number;
  totalPerSecond: number;
  totalBurst: number;
  /** The clock and the wait, injected by tests. */
  now?: (() => number) | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

/** Tokens left (negative while waits are owed) and when they were counted. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets for work a client asks of the server that sends no file data back: one per client and one
 * the clients share. Past its burst, a client's requests wait so that on average it causes at most
 * `perClientPerSecond` of that work, however many requests it pipelines, and all clients together at most
 * `totalPerSecond`, however many keys they hold. Waiting rather than refusing keeps an honest client's
 * large request correct, only slower.
 */
export class RateBudget {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #totalPerSecond: number;
  readonly #totalBurst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Per client (hex key). */
  readonly #buckets = new Map<string, Bucket>();
  #total: Bucket | undefined;

  constructor(options: RateBudgetOptions) {
    this.#perSecond = options.perClientPerSecond;
    this.#burst = options.perClientBurst;
    this.#totalPerSecond = options.totalPerSecond;
    this.#totalBurst = options.totalBurst;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  /**
   * Spends `amount` of `client`'s budget and of the shared one, first waiting as long as either is in debt
   * (the longer of the two waits). With `signal` (the operation's, or its connection's), the wait ends when it
   * aborts, rejecting with its reason: a request of a client that hung up must not hold what it opened (a
   * file) for as long as its debt lasts, while its connection's slots are free again. The debt stays.
   */
  async spend(client: string, amount: number, signal?: AbortSignal): Promise<void> {
    if (amount <= 0) return;
    const now = this.#now();
    const bucket = this.#buckets.get(client) ?? { tokens: this.#burst, at: now };
    const total = (this.#total ??= { tokens: this.#totalBurst, at: now });
    const wait = Math.max(
      take(bucket, amount, now, this.#perSecond, this.#burst),
      take(total, amount, now, this.#totalPerSecond, this.#totalBurst),
    );
    // Bounded memory: a client whose bucket is full again needs no entry.
    this.#buckets.set(client, bucket);
    if (wait > 0) await untilAborted(this.#sleep(wait), signal);
    for (const [key, b] of this.#buckets)
      if (b.tokens + ((this.#now() - b.at) * this.#perSecond) / 1000 >= this.#burst)
        this.#buckets.delete(key);
  }
}

/**
 * The budget for the server's hashing that sends no file data (VERIFY_ONLY, held claims, EXISTING, a delta
 * upload's signature; see FileHashCache), in bytes. The cache keeps the same bytes from being hashed twice;
 * this bounds the rest (distinct files, chunk sizes, cache evictions).
 */
export class HashBudget extends RateBudget {
  constructor(options: HashBudgetOptions = {}) {
    super({
      perClientPerSecond: options.bytesPerSecond ?? CHECK_HASH_BYTES_PER_SECOND,
      perClientBurst: options.burstBytes ?? CHECK_HASH_BURST_BYTES,
      totalPerSecond: options.totalBytesPerSecond ?? CHECK_HASH_TOTAL_BYTES_PER_SECOND,
      totalBurst: options.totalBurstBytes ?? CHECK_HASH_TOTAL_BURST_BYTES,
      now: options.now,
      sleep: options.sleep,
    });
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
