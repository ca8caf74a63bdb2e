/**
 * Refusal lines a session logs at once before its budget runs out: more than an honest session meets
 * (a `sync` whose files mostly collide, a listing of unreadable entries), so its refusals are all logged.
 */
export const REFUSAL_LOG_BURST = 200;
/** Refusal lines a session logs per second once its burst is spent. */
export const REFUSAL_LOG_PER_SECOND = 10;

/** What the log does with one refusal: write its line, write a notice instead, or only count it. */
export type RefusalLogDecision = 'log' | 'notice' | 'count';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (the events' clock, ms). */
  at: number;
  /** Refusals counted and not logged so far. */
  unlogged: number;
}

/**
 * A token bucket of log lines per session for the refusals of its operations (docs/SECURITY.md, "Findings
 * of the stop 42 pass"). A refused request costs the client one record and the server one log line, so an
 * allowed client could write the server's log at its request rate, past every quota (the log is no
 * client's). Pure: time is the events' own, so a test drives it with numbers.
 */
export class RefusalLogBudget {
  readonly #bySession = new Map<number, Bucket>();

  /** One refusal of `sessionId` at `nowMs`: log it, log the one notice that further ones are counted, or count it. */
  take(sessionId: number, nowMs: number): RefusalLogDecision {
    let bucket = this.#bySession.get(sessionId);
    if (bucket === undefined) {
      bucket = { tokens: REFUSAL_LOG_BURST, at: nowMs, unlogged: 0 };
      this.#bySession.set(sessionId, bucket);
    }
    const refilled = ((nowMs - bucket.at) / 1000) * REFUSAL_LOG_PER_SECOND;
    bucket.tokens = Math.min(REFUSAL_LOG_BURST, bucket.tokens + Math.max(0, refilled));
    bucket.at = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'log';
    }
    bucket.unlogged++;
    // Once a session: a notice per run out would itself be a line per token at a flood's rate.
    return bucket.unlogged === 1 ? 'notice' : 'count';
  }

  /** The session ended: forgets it and returns how many of its refusals were counted and not logged. */
  end(sessionId: number): number {
    const unlogged = this.#bySession.get(sessionId)?.unlogged ?? 0;
    this.#bySession.delete(sessionId);
    return unlogged;
  }
}
