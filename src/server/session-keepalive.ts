/**
 * How often a busy server sends KEEPALIVE (PROTOCOL.md §5.18): a third of the client's default stall timeout
 * (30 s, `STALL_TIMEOUT_MS` in src/client/client-session.ts), so two may be lost to a slow network before
 * the client's watchdog takes a busy server for a dead one.
 */
export const KEEPALIVE_INTERVAL_MS = 10_000;

/**
 * Keeps one session visibly alive while the server works for the client without sending anything (issue 15):
 * re-hashing held chunks before PUT_ACCEPT, completing a multipart upload before PUT_DONE, writing a batch,
 * hashing a file before GET_OFFER. While any work is wrapped in `whileBusy`, a KEEPALIVE goes out every
 * `intervalMs`, as SSH's keepalives do, so the client's stall watchdog measures a dead peer, not a busy one.
 * One timer per session however many operations are busy; a KEEPALIVE still waiting to be written (the
 * client not reading) is not repeated, so a stalled client is never sent a queue of them.
 */
export class SessionKeepalive {
  readonly #send: () => Promise<void>;
  readonly #intervalMs: number;
  #busy = 0;
  #timer: NodeJS.Timeout | undefined;
  #sending = false;
  #closed = false;

  constructor(send: () => Promise<void>, intervalMs: number = KEEPALIVE_INTERVAL_MS) {
    this.#send = send;
    this.#intervalMs = intervalMs;
  }

  /** Runs (or waits for) `work`, with KEEPALIVE every interval until it settles; returns its result. */
  async whileBusy<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
    if (this.#busy++ === 0 && !this.#closed) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      // Never what keeps a process alive: the session's socket is.
      this.#timer.unref();
    }
    try {
      return await (typeof work === 'function' ? work() : work);
    } finally {
      if (--this.#busy === 0) this.#stop();
    }
  }

  /** Stops the timer for good: the session is over, there is nobody left to keep. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (this.#sending) return;
    this.#sending = true;
    // A send that fails means the session is closing, which ends the work too: nothing to report here.
    this.#send()
      .catch(() => undefined)
      .finally(() => {
        this.#sending = false;
      });
  }
}
