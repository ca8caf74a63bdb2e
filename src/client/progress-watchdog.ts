import { FerryError } from '../errors/index.js';
import type { Message } from '../protocol/index.js';

/**
 * Default time a server may keep a session alive with KEEPALIVE alone (PROTOCOL.md §5.18) before the client
 * gives up on it, on top of what the sizes it may be hashing allow (`HASH_FLOOR_BYTES_PER_SECOND`). OpenSSH
 * drops a peer after ServerAliveInterval x ServerAliveCountMax (commonly 60 s x 3) of silence; a busy ferry
 * server is not silent, so this bounds a live one that never gets anywhere.
 */
export const PROGRESS_TIMEOUT_MS = 5 * 60_000;

/**
 * The slowest rate at which a server is assumed to read and hash (or place) the bytes a client asked about: a
 * spinning disk, or SHA-256 without SHA extensions on a small machine. A 10 GiB file adds 160 s to the
 * allowance, a 1 TiB one 4.6 h: a server honestly that slow still finishes, and one that lies about being
 * busy holds the client for no longer than hashing what the client itself named would take.
 */
export const HASH_FLOOR_BYTES_PER_SECOND = 64 * 1024 * 1024;

/**
 * The client's bound on a live server that makes no progress (PROTOCOL.md §5.18): KEEPALIVE says "busy for
 * you", and a malicious or broken server could say it forever while the stall watchdog (bytes moving) sees a
 * healthy session. Every other message from the server is progress. A KEEPALIVE arriving more than the
 * allowance after the last progress fails the session with NO_PROGRESS. The allowance is the base timeout
 * plus the time the largest work the server may legitimately be doing for this session takes at
 * `HASH_FLOOR_BYTES_PER_SECOND`: the bytes of every open ref that the client offered (PUT_OFFER size, a
 * batch's entries), claims to hold (GET_REQUEST heldSize) or was offered and kept the ref open for
 * (GET_OFFER size, DELTA_BLOCKS oldSize), summed, since a server may work on them one after another. A size
 * that comes from the server counts only while the client keeps that ref open, and a client refuses an offer
 * larger than it can take (its free disk, its own file's size), so the server cannot buy itself more time
 * than the work the client accepted. Pure: the clock is injected.
 */
export class ProgressWatchdog {
  readonly #baseMs: number;
  readonly #now: () => number;
  readonly #bytesByRef = new Map<number, number>();
  /** The largest PROGRESS seen per open ref: only more is progress. */
  readonly #verifiedByRef = new Map<number, number>();
  #bytes = 0;
  #lastProgressAt: number;
  /** The session's bytes read when its last message had been taken, and when (`arrivalCheck`). */
  #bytesAtMessage = 0;
  #messageAt: number;
  /** When the last message was received (the one clock reading per message). */
  #receivedAt: number;
  /** The client is handling a message: its own slowness is not the server's. */
  #clientBusy = false;
  /** A check found the client busy: the next one restarts the clock. */
  #busyAtCheck = false;

  constructor(baseMs: number = PROGRESS_TIMEOUT_MS, now: () => number = () => performance.now()) {
    this.#baseMs = baseMs;
    this.#now = now;
    this.#lastProgressAt = now();
    this.#messageAt = this.#lastProgressAt;
    this.#receivedAt = this.#lastProgressAt;
  }

  /** The client takes a message (busy) or is done with it, having read `bytesRead` bytes of the session. */
  taking(busy: boolean, bytesRead: number): void {
    this.#clientBusy = busy;
    if (busy) return;
    this.#bytesAtMessage = bytesRead;
    this.#messageAt = this.#receivedAt;
  }

  /**
   * Run every few seconds: a message that began arriving (the session read bytes since its last message)
   * must be whole within the base timeout, or the server is trickling it (a byte now and then keeps the stall
   * watchdog quiet and no message ever completes): NO_PROGRESS. At the slowest honest link that still moves
   * a 64 KiB record in 5 minutes (218 bytes/s) this never fires; nor while the client itself holds a message.
   */
  arrivalCheck(bytesRead: number): void {
    if (this.#clientBusy) {
      this.#busyAtCheck = true;
      return;
    }
    if (bytesRead <= this.#bytesAtMessage) return;
    const now = this.#now();
    if (this.#busyAtCheck) {
      // The client held a message past a check: the server's time starts now.
      this.#busyAtCheck = false;
      this.#messageAt = now;
      return;
    }
    const waitedMs = now - this.#messageAt;
    if (waitedMs > this.#baseMs)
      throw new FerryError(
        'NO_PROGRESS',
        `the server has been sending one message for ${formatSeconds(waitedMs)}, longer than --progress-timeout (${formatSeconds(this.#baseMs)}): bytes trickle in and nothing completes`,
      );
  }

  /** The time the server has now, since its last progress, before a KEEPALIVE fails the session. */
  get allowanceMs(): number {
    return this.#baseMs + (this.#bytes / HASH_FLOOR_BYTES_PER_SECOND) * 1000;
  }

  /** A message the client sends: counts the bytes it asks the server to work on. */
  sent(message: Message): void {
    switch (message.type) {
      case 'PUT_OFFER':
        return this.#add(message.ref, message.size);
      case 'GET_REQUEST':
        return this.#add(message.ref, message.heldSize);
      case 'PUT_BATCH':
        // A batch comes in several records: its work is all of them.
        return this.#add(
          message.ref,
          (this.#bytesByRef.get(message.ref) ?? 0) +
            message.entries.reduce((sum, entry) => sum + entry.size, 0),
        );
      default:
    }
  }

  /**
   * A message from the server (after the session routed it, so `refOpen` says whether the client still
   * waits on its ref). Progress is a message for a ref the client still waits on (one for a ref it closed
   * is dropped unread, and a server could repeat it forever), or one of the session's own; a PROGRESS only
   * when it reports more than before for its ref. A KEEPALIVE, or anything else that is not progress,
   * past the allowance throws NO_PROGRESS.
   */
  received(message: Message, refOpen: boolean): void {
    const now = this.#now();
    this.#receivedAt = now;
    if (this.#isProgress(message, refOpen)) {
      this.#lastProgressAt = now;
      if (message.type === 'GET_OFFER') this.#add(message.ref, message.size);
      if (message.type === 'DELTA_BLOCKS') this.#add(message.ref, message.oldSize);
      return;
    }
    const waitedMs = now - this.#lastProgressAt;
    const allowanceMs = this.allowanceMs;
    if (waitedMs > allowanceMs)
      throw new FerryError(
        'NO_PROGRESS',
        `the server sent only keepalives for ${formatSeconds(waitedMs)}, longer than the ${formatSeconds(allowanceMs)} ` +
          'its work for this session may take (--progress-timeout, plus the size it may be hashing at 64 MiB/s)',
      );
  }

  #isProgress(message: Message, refOpen: boolean): boolean {
    if (message.type === 'KEEPALIVE') return false;
    if (!('ref' in message) || message.ref === 0) return true;
    if (!refOpen) return false;
    if (message.type !== 'PROGRESS') return true;
    const before = this.#verifiedByRef.get(message.ref) ?? -1;
    if (message.verifiedBytes <= before) return false;
    this.#verifiedByRef.set(message.ref, message.verifiedBytes);
    return true;
  }

  /** The client closed `ref`: whatever it named is no longer work the server may be doing for it. */
  closed(ref: number): void {
    this.#verifiedByRef.delete(ref);
    const bytes = this.#bytesByRef.get(ref);
    if (bytes === undefined) return;
    this.#bytesByRef.delete(ref);
    this.#bytes -= bytes;
  }

  #add(ref: number, bytes: number): void {
    if (!(bytes > 0)) return;
    // A ref's work is the largest size named for it (an offer and its DELTA_BLOCKS name the same file).
    const had = this.#bytesByRef.get(ref) ?? 0;
    if (bytes <= had) return;
    this.#bytesByRef.set(ref, bytes);
    this.#bytes += bytes - had;
  }
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
