import { setTimeout as delay } from 'node:timers/promises';
import { FerryError } from '../errors/index.js';

/** How `sendFiles` retries after a retryable failure. Time and randomness are injectable for tests. */
export interface RetryPolicy {
  /** Further attempts after a failure; 0 fails fast. Counts consecutive failures without progress. */
  retries: number;
  /** First delay; doubles each attempt. */
  baseDelayMs: number;
  /** Upper bound of one delay. */
  maxDelayMs: number;
  /** Uniform [0, 1): the jitter source. */
  random: () => number;
  /** Waits `ms`, rejecting with ABORTED when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  random: Math.random,
  sleep: async (ms, signal) => {
    try {
      await delay(ms, undefined, { signal });
    } catch {
      throw new FerryError('ABORTED');
    }
  },
};

/**
 * The delay before retry number `attempt` (1-based): exponential backoff with "equal jitter", i.e. a
 * random value in [d/2, d) where d = min(max, base * 2^(attempt-1)). The random half keeps many clients
 * that failed together from retrying in lockstep; the fixed half keeps the backoff meaningful.
 */
export function retryDelayMs(
  attempt: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * policy.random());
}
