import type { ErrorCode } from '../errors/index.js';

/** Which way file data travels: `upload` (client to server) or `download` (server to client). */
export type TransferDirection = 'upload' | 'download';

/** Names one transfer in every event about it. */
export interface TransferSubject {
  readonly direction: TransferDirection;
  /**
   * The local path as the caller wrote it: the source of an upload, the destination of a download under the
   * local directory given (`out/a.txt`), never resolved to its real path.
   */
  readonly file: string;
  /** The path on the server, relative to the client's root there. */
  readonly remotePath: string;
}

/**
 * Everything a client operation (`sendFiles`, `sendTree`, `getFiles`) reports while it runs, in order.
 * One union for both directions; the CLI's bars, its `--json` lines and its logs are all built from it.
 *
 * - `planned`: once, before anything is sent: how many files and bytes the operation means to transfer
 *   (for an overall bar; a file that cannot be read counts 0 bytes).
 * - `session-opened`: a session was authenticated (`attempt` counts from 1 across retries).
 * - `transfer-started`: the receiver answered the offer; `heldBytes` it already holds verified.
 * - `transfer-resumed`: follows `transfer-started` when `heldBytes > 0`: only the rest is sent.
 * - `progress`: the receiver holds `verifiedBytes` verified and durable (never decreases in a session).
 * - `stalled`: the session moved no bytes for the stall timeout and was dropped (a `retrying` follows, or
 *   the operation fails).
 * - `retrying`: a retryable failure; a new session opens after `delayMs`.
 * - `transfer-delta`: a delta upload (PROTOCOL.md §5.15) sent its chunks: of their `coveredBytes` only
 *   `literalBytes` travelled as data, the rest as copies of the receiver's old file.
 * - `transfer-finished`: the whole file is verified against `digest` and in place: this is the verified
 *   event, emitted only once the receiver confirmed the digest.
 * - `transfer-failed`: this transfer failed for good: refused or unreadable on its own (the operation
 *   carries on with the others), or the whole operation failed while it was open.
 * - `entry-created`, `entry-skipped`: directories and links of a tree; `entry-failed`: one was refused.
 */
export type TransferEvent =
  | { type: 'planned'; files: number; bytes: number }
  | { type: 'session-opened'; serverPublicKey: Buffer; serverId: string; attempt: number }
  | ({ type: 'transfer-started'; size: number; heldBytes: number; restarted: boolean } & TransferSubject)
  | ({ type: 'transfer-resumed'; size: number; fromBytes: number } & TransferSubject)
  | ({ type: 'progress'; verifiedBytes: number; size: number } & TransferSubject)
  | { type: 'stalled'; attempt: number; message: string }
  | { type: 'retrying'; attempt: number; delayMs: number; code: ErrorCode; message: string }
  | ({ type: 'transfer-delta'; coveredBytes: number; literalBytes: number } & TransferSubject)
  | ({
      type: 'transfer-finished';
      size: number;
      /** The file digest (PROTOCOL.md §7.2) both sides verified. */
      digest: Buffer;
      /** File bytes that crossed the wire in this run's final session. */
      transferredBytes: number;
      /** Bytes already held verified when the final session started. */
      resumedBytes: number;
      /**
       * Bytes a delta download took from the destination's old file instead of receiving them (PROTOCOL.md
       * §5.17); absent for uploads.
       */
      reusedBytes?: number;
      restarted: boolean;
      /** The destination already held this content and was left untouched. */
      identical: boolean;
    } & TransferSubject)
  | ({ type: 'transfer-failed'; code: ErrorCode; message: string } & TransferSubject)
  | { type: 'entry-created'; kind: 'dir' | 'link'; remotePath: string }
  | { type: 'entry-failed'; kind: 'dir' | 'link'; remotePath: string; code: ErrorCode; message: string }
  | { type: 'entry-skipped'; path: string; reason: string };

/** The `type` of every {@link TransferEvent}. */
export type TransferEventType = TransferEvent['type'];

/** Events every client operation emits about its sessions, whatever it transfers. */
export type SessionEvent = Extract<TransferEvent, { type: 'session-opened' | 'stalled' | 'retrying' }>;

/**
 * Remembers the transfers of one operation that started but did not finish, so that a final failure can be
 * reported for each of them (`transfer-failed`) rather than only for the operation as a whole.
 */
export class OpenTransfers {
  readonly #open = new Map<string, TransferSubject>();

  /** Notes that `subject` is in flight (from its offer on, so a refused offer is reported too). */
  begin(subject: TransferSubject): void {
    this.#open.set(keyOf(subject), subject);
  }

  /** Notes that `subject` finished. */
  end(subject: TransferSubject): void {
    this.#open.delete(keyOf(subject));
  }

  /** Emits `transfer-failed` for every transfer still open, and forgets them. */
  failAll(emit: (event: TransferEvent) => void, code: ErrorCode, message: string): void {
    for (const subject of this.#open.values()) emit({ type: 'transfer-failed', ...subject, code, message });
    this.#open.clear();
  }
}

function keyOf(subject: TransferSubject): string {
  return `${subject.direction}\0${subject.remotePath}`;
}

/** What a transfer runner reports to: the event sink, the transfers still open, and progress for retries. */
export interface TransferReporting {
  emit: (event: TransferEvent) => void;
  open: OpenTransfers;
  noteProgress: () => void;
}
