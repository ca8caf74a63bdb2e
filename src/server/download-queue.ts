import { FerryError } from '../errors/index.js';

/** Sends one download; `signal` aborts when the client cancels it or the session ends. Never rejects. */
export type DownloadJob = (signal: AbortSignal) => Promise<void>;

/** The reason a download stops when the client sends CANCEL for its ref (PROTOCOL.md §5.9). */
export const CANCELLED_BY_CLIENT = new FerryError('ABORTED', 'cancelled by the client');

/**
 * A session's downloads, sent one at a time in arrival order (PROTOCOL.md §5.11.4) beside its receive loop,
 * so the loop keeps reading (a listing, an upload, a CANCEL) while a file streams.
 */
export class DownloadQueue {
  #tail: Promise<void> = Promise.resolve();
  readonly #controllers = new Map<number, AbortController>();
  #roomWaiters: Array<() => void> = [];
  /** The session's connection, once `endWith` was given it: its close stops every download. */
  #connection: AbortSignal | undefined;

  /** Downloads queued or being sent. */
  get size(): number {
    return this.#controllers.size;
  }

  /**
   * Queues the download of `ref` after the ones already queued. A ref names one operation and is never
   * reused in a session (PROTOCOL.md §5.3): a second GET_REQUEST for a ref still queued or sent is a protocol
   * violation, refused before it is queued, so the bound of `roomFor` (which counts refs) cannot be escaped by
   * repeating one ref.
   */
  add(ref: number, job: DownloadJob): void {
    if (this.#controllers.has(ref))
      throw new FerryError('MESSAGE_UNEXPECTED', `GET_REQUEST for ref ${ref}, which is already open`);
    const controller = new AbortController();
    this.#controllers.set(ref, controller);
    // Queued after its connection closed (the loop was waiting for room): it never starts.
    if (this.#connection?.aborted) controller.abort(this.#connection.reason);
    this.#tail = this.#tail.then(async () => {
      try {
        // Cancelled while queued: it never starts, so nothing at all is sent for it.
        if (!controller.signal.aborted) await job(controller.signal);
      } finally {
        this.#controllers.delete(ref);
        const waiters = this.#roomWaiters;
        this.#roomWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
    // A job reports its own failure; the chain must go on to the next download whatever happened.
    this.#tail = this.#tail.catch(() => undefined);
  }

  /** Resolves once fewer than `limit` downloads are queued or being sent. */
  async roomFor(limit: number): Promise<void> {
    while (this.size >= limit) await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
  }

  /**
   * Stops every download, queued or running, when `connection` aborts (its socket closed), without waiting
   * for the session's end: a receive loop waiting in `roomFor` reads nothing, so it never learns of the close,
   * and downloads waiting for a budget (hashing, store HEADs, delta memory) would hold their files, their
   * session and their slots until their waits end by themselves (hours, for a client deep in debt).
   */
  endWith(connection: AbortSignal): void {
    this.#connection = connection;
    const stop = (): void => {
      for (const controller of this.#controllers.values()) controller.abort(connection.reason);
    };
    if (connection.aborted) stop();
    else connection.addEventListener('abort', stop, { once: true });
  }

  /** Stops the download of `ref` at its next message, or before it starts (PROTOCOL.md §5.9). */
  cancel(ref: number): void {
    this.#controllers.get(ref)?.abort(CANCELLED_BY_CLIENT);
  }

  /** Stops every download (the session is ending) and resolves once none runs. Idempotent. */
  async close(reason: FerryError): Promise<void> {
    for (const controller of this.#controllers.values()) controller.abort(reason);
    await this.#tail;
  }
}
