import { FerryError, codeFromWire } from '../errors/index.js';
import type { Message } from '../protocol/index.js';
import { RefMailbox } from './ref-mailbox.js';

/** Messages that belong to a transfer ref and are routed to its mailbox. */
export type RefMessage = Extract<Message, { ref: number }>;

/**
 * The transfer refs of one client session: each open ref's mailbox and PROGRESS listener, and where a
 * message for a ref goes. No socket here: the session's receive loop hands each ref's message to `route`.
 */
export class SessionRefs {
  readonly #mailboxes = new Map<number, RefMailbox>();
  readonly #progress = new Map<number, (verifiedBytes: number) => void>();
  #nextRef = 1;

  /** Opens a fresh ref (PROTOCOL.md §5.3: non-zero, never reused in a session) with its mailbox. */
  open(): number {
    const ref = this.#nextRef++;
    this.#mailboxes.set(ref, new RefMailbox());
    return ref;
  }

  /** Closes a ref: messages still arriving for it are dropped. */
  close(ref: number): void {
    // Failing the mailbox releases a receive loop waiting for room in it: a ref given up on while its
    // mailbox was full must not stop every other ref's messages.
    this.#mailboxes.get(ref)?.fail(new FerryError('ABORTED', `ref ${ref} closed`));
    this.#mailboxes.delete(ref);
    this.#progress.delete(ref);
  }

  /** True while `ref` is open. */
  has(ref: number): boolean {
    return this.#mailboxes.has(ref);
  }

  /** The next message for `ref`; an ERROR for the ref rejects with the server's coded error. */
  take(ref: number): Promise<RefMessage> {
    const mailbox = this.#mailboxes.get(ref);
    if (!mailbox) return Promise.reject(new FerryError('INTERNAL', `ref ${ref} is not open`));
    return mailbox.take() as Promise<RefMessage>;
  }

  /** Registers a listener for PROGRESS of `ref`. */
  onProgress(ref: number, listener: (verifiedBytes: number) => void): void {
    this.#progress.set(ref, listener);
  }

  /** Fails every open ref's mailbox with `err`: nobody waits on one any more, nor does `route`. */
  fail(err: FerryError): void {
    for (const mailbox of this.#mailboxes.values()) mailbox.fail(err);
  }

  /**
   * Delivers a message for a ref: PROGRESS to its listener, an ERROR to fail its mailbox, the rest into its
   * mailbox (waiting while it is full). Throws MESSAGE_UNEXPECTED for a ref never opened.
   */
  async route(message: RefMessage): Promise<void> {
    if (message.type === 'PROGRESS') {
      this.#progress.get(message.ref)?.(message.verifiedBytes);
      return;
    }
    const mailbox = this.#mailboxes.get(message.ref);
    if (!mailbox) {
      // A ref we closed (cancelled, failed locally) may still have messages in flight: drop them.
      if (message.ref < this.#nextRef) return;
      throw new FerryError(
        'MESSAGE_UNEXPECTED',
        `${message.type} for ref ${message.ref}, which was never opened`,
      );
    }
    if (message.type === 'ERROR') {
      mailbox.fail(new FerryError(codeFromWire(message.code), message.detail || undefined, { remote: true }));
      return;
    }
    await mailbox.put(message);
  }
}
