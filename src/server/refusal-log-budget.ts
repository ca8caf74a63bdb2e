/**
 * Refusal lines a client logs at once before its budget runs out: more than an honest session meets
 * (a `sync` whose files mostly collide, a listing of unreadable entries), so its refusals are all logged.
 */
export const REFUSAL_LOG_BURST = 200;
/** Refusal lines a client logs per second once its burst is spent. */
export const REFUSAL_LOG_PER_SECOND = 10;

/** What the log does with one refusal: write its line, write a notice instead, or only count it. */
export type RefusalLogDecision = 'log' | 'notice' | 'count';

/** The session a refusal belongs to, and its client's full ferry ID (known once admitted). */
export interface RefusingSession {
  readonly sessionId: number;
  readonly clientId: string | undefined;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (the events' clock, ms). */
  at: number;
}

/**
 * A token bucket of log lines per client key for the refusals of its operations, and a count per session of
 * those not logged (docs/SECURITY.md, "Findings of the stop 42 pass"). A refused request costs the client one
 * record and the server one log line, so an allowed client could write the server's log at its request
 * rate, past every quota (the log is no client's). Per client, not per session, so that reconnecting does
 * not buy a fresh burst. Pure: time is the events' own, so a test drives it with numbers.
 */
export class RefusalLogBudget {
  /** Clients whose bucket is not full; one with a full bucket carries no state and is forgotten. */
  readonly #byClient = new Map<string, Bucket>();
  /** Refusals counted and not logged, per session that had one. */
  readonly #unlogged = new Map<number, number>();

  /** One refusal in `session` at `nowMs`: log it, log the session's one notice that further ones are counted, or count it. */
  take(session: RefusingSession, nowMs: number): RefusalLogDecision {
    const bucket = this.#refilled(session, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'log';
    }
    const unlogged = (this.#unlogged.get(session.sessionId) ?? 0) + 1;
    this.#unlogged.set(session.sessionId, unlogged);
    // Once a session: a notice per run out would itself be a line per token at a flood's rate.
    return unlogged === 1 ? 'notice' : 'count';
  }

  /** `session` ended at `nowMs`: returns how many of its refusals were counted and not logged. */
  end(session: RefusingSession, nowMs: number): number {
    const unlogged = this.#unlogged.get(session.sessionId) ?? 0;
    this.#unlogged.delete(session.sessionId);
    const key = keyOf(session);
    if (this.#byClient.has(key) && this.#refilled(session, nowMs).tokens >= REFUSAL_LOG_BURST)
      this.#byClient.delete(key);
    return unlogged;
  }

  #refilled(session: RefusingSession, nowMs: number): Bucket {
    const key = keyOf(session);
    let bucket = this.#byClient.get(key);
    if (bucket === undefined) {
      bucket = { tokens: REFUSAL_LOG_BURST, at: nowMs };
      this.#byClient.set(key, bucket);
    }
    const refilled = ((nowMs - bucket.at) / 1000) * REFUSAL_LOG_PER_SECOND;
    bucket.tokens = Math.min(REFUSAL_LOG_BURST, bucket.tokens + Math.max(0, refilled));
    bucket.at = nowMs;
    return bucket;
  }
}

/** Refusals come from admitted sessions, whose client is known; a session without one counts alone. */
function keyOf(session: RefusingSession): string {
  return session.clientId ?? `session ${session.sessionId}`;
}
