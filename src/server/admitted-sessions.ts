import type { FerryError } from '../errors/index.js';

/** How a live session is ended from outside (a revoke through another server): ERROR, then close. */
export type EndSession = (error: FerryError) => void;

/**
 * The admitted sessions of one server by client key, so that a change to who is allowed (a revoke heard
 * through the cluster's etcd watch, docs/ARCHITECTURE.md "Admission in a cluster") can end the live
 * sessions of the keys it took away, not only refuse their next connection.
 */
export class AdmittedSessions {
  readonly #sessions = new Map<EndSession, Buffer>();

  /** Registers an admitted session; returns the function that unregisters it (call it when it ends). */
  add(clientKey: Buffer, end: EndSession): () => void {
    this.#sessions.set(end, clientKey);
    return () => this.#sessions.delete(end);
  }

  /** Live sessions now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Ends every session whose client key `shouldEnd` picks, with `error`; returns how many. */
  end(shouldEnd: (clientKey: Buffer) => boolean, error: FerryError): number {
    let ended = 0;
    for (const [end, key] of [...this.#sessions]) {
      if (!shouldEnd(key)) continue;
      this.#sessions.delete(end);
      end(error);
      ended++;
    }
    return ended;
  }
}
