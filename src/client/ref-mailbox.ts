import type { FerryError } from '../errors/index.js';
import type { Message } from '../protocol/index.js';

/** Messages queued for one ref before the receive loop waits for the consumer. */
const MAILBOX_CAPACITY = 64;

/**
 * The messages addressed to one transfer ref, in arrival order. The session's receive loop `put`s and
 * waits while the mailbox is full, so a slow consumer (a disk) pushes back on the socket instead of
 * letting messages pile up in memory.
 */
export class RefMailbox {
  readonly #queue: Message[] = [];
  #failure: FerryError | undefined;
  #taker: { resolve: (m: Message) => void; reject: (e: FerryError) => void } | undefined;
  #spaceWaiters: Array<() => void> = [];

  /** Delivers a message; resolves once the mailbox has room again. */
  put(message: Message): Promise<void> {
    const taker = this.#taker;
    if (taker) {
      this.#taker = undefined;
      taker.resolve(message);
      return Promise.resolve();
    }
    this.#queue.push(message);
    // A failed mailbox has nobody left to make room: the receive loop must not wait on it.
    if (this.#queue.length < MAILBOX_CAPACITY || this.#failure) return Promise.resolve();
    return new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
  }

  /** The next message; rejects with the failure once the mailbox failed and is empty. */
  take(): Promise<Message> {
    const message = this.#queue.shift();
    if (message) {
      if (this.#queue.length < MAILBOX_CAPACITY) this.#releaseSpace();
      return Promise.resolve(message);
    }
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<Message>((resolve, reject) => {
      this.#taker = { resolve, reject };
    });
  }

  /** Fails the mailbox: queued messages are still delivered first, then `err`. */
  fail(err: FerryError): void {
    if (this.#failure) return;
    this.#failure = err;
    const taker = this.#taker;
    this.#taker = undefined;
    taker?.reject(err);
    this.#releaseSpace();
  }

  #releaseSpace(): void {
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
