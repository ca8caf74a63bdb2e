import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from 'pino';

/** How fast one source may start handshakes (docs/SECURITY.md, "Handshakes under load"). */
export interface HandshakeRateLimits {
  /** Handshakes a source may start per second, sustained; 0 turns the limit off. */
  readonly handshakesPerSecond: number;
  /** Handshakes a source may start at once (the bucket's size). */
  readonly handshakeBurst: number;
  /** Sources remembered at once; past it the least recently seen is forgotten, so memory stays bounded. */
  readonly maxSources: number;
}

/**
 * An honest client starts at most a few sessions per second: `ferry send --streams 16` opens 16 at once
 * (plus its control session), a retry waits a backoff first. A burst of 64 lets four such commands start
 * together from one address (a NAT, a CI runner), and 16 per second sustained lets them keep reconnecting;
 * at about 1 ms of server CPU per message 1 (X25519 + ML-KEM-768), one source then costs at most 1.6 % of a
 * core. 65,536 sources bound the table near 10 MiB (measured).
 */
export const DEFAULT_HANDSHAKE_RATE_LIMITS: HandshakeRateLimits = {
  handshakesPerSecond: 16,
  handshakeBurst: 64,
  maxSources: 65_536,
};

/**
 * The source a connection counts against: an IPv4 address (/32), or the /64 of an IPv6 address, because
 * one IPv6 host usually holds a whole /64 (OpenSSH's PerSourceNetBlockSize default, 32:64). An IPv4-mapped
 * IPv6 address (`::ffff:a.b.c.d`, seen on dual-stack sockets) counts as its IPv4 address.
 */
export function sourceOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const zoneless = address.split('%')[0]!;
  const [head = '', tail = ''] = zoneless.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = zoneless.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in the clock's milliseconds. */
  at: number;
  /** Refused since it last had a token: the log line is written once per such run, not per connection. */
  refusing: boolean;
}

/**
 * A token bucket per source (an nftables meter, OpenSSH's PerSourcePenalties in spirit): each handshake
 * started takes a token, tokens come back at `handshakesPerSecond` up to `handshakeBurst`. Checked at accept,
 * before a byte is read, so a refused connection costs the server no handshake work and gets no answer.
 * The table holds at most `maxSources`: when full, refilled buckets (no state) are forgotten first, then the
 * first seen; a forgotten source starts again with a full bucket, so an attacker resetting its own bucket
 * must bring thousands of other /32s or /64s, each of which gets only its own burst.
 */
export class HandshakeRateLimit {
  readonly #limits: HandshakeRateLimits;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  /** Counters for logs and tests: connections let through to the handshake, and refused. */
  readonly stats = { allowed: 0, refused: 0, forgotten: 0 };

  constructor(limits: HandshakeRateLimits, options: { logger?: Logger; now?: () => number } = {}) {
    if (!(limits.handshakesPerSecond >= 0) || !(limits.handshakeBurst >= 1) || !(limits.maxSources >= 1))
      throw new RangeError('handshake rate limits: rate >= 0, burst >= 1 and maxSources >= 1');
    this.#limits = limits;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Sources remembered now (never more than `maxSources`). */
  get size(): number {
    return this.#buckets.size;
  }

  /** At accept: true takes a token of `address`'s source; false means close the socket unread. */
  allow(address: string | undefined): boolean {
    const { handshakesPerSecond: rate, handshakeBurst: burst, maxSources } = this.#limits;
    if (rate === 0) {
      this.stats.allowed++;
      return true;
    }
    const source = sourceOf(address ?? '');
    const now = this.#now();
    let bucket = this.#buckets.get(source);
    if (bucket) {
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) * rate) / 1000);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= maxSources) this.#makeRoom(now);
      bucket = { tokens: burst, at: now, refusing: false };
      this.#buckets.set(source, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.refusing = false;
      this.stats.allowed++;
      return true;
    }
    this.stats.refused++;
    if (!bucket.refusing) {
      bucket.refusing = true;
      // Once per source per run of refusals: a flood of connections must not become a flood of log lines.
      this.#logger?.warn(
        { event: 'handshake-rate-limited', code: 'SERVER_BUSY', source, perSecond: rate, burst },
        'source refused: too many handshakes',
      );
    }
    return false;
  }

  /**
   * Called with the table full. A bucket that has refilled to the burst carries no state: those go first. If
   * that frees less than an eighth, the first seen go until an eighth is free, so the O(n) pass is paid once
   * per maxSources / 8 new sources, not per connection. (Touching a Map entry to keep an LRU order would
   * cost a delete and an insert per connection, which V8 turns into rehashing at some table sizes.)
   */
  #makeRoom(now: number): void {
    const { handshakesPerSecond: rate, handshakeBurst: burst, maxSources } = this.#limits;
    const refillMs = (burst * 1000) / rate;
    const target = maxSources - Math.max(1, Math.floor(maxSources / 8));
    for (const [source, bucket] of this.#buckets) {
      if (now - bucket.at >= refillMs) {
        this.#buckets.delete(source);
        this.stats.forgotten++;
      }
    }
    for (const source of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(source);
      this.stats.forgotten++;
    }
  }
}
