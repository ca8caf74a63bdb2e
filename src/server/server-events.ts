import { EventEmitter } from 'node:events';
import type { ErrorCode, FerryError } from '../errors/index.js';
import type { RemovedKind } from '../transfer/index.js';

/** Which way file data travels, seen from the client: `upload` (into the server) or `download`. */
export type ServerTransferDirection = 'upload' | 'download';

/** Who is on the other end of a session. Never holds a key, only the short ferry ID. */
export interface SessionPeer {
  /** Numbers the server's sessions from 1, for correlating events. */
  readonly sessionId: number;
  /** The client's `host:port`. */
  readonly address: string;
  /** The client's short ferry ID, once the handshake revealed its key. */
  readonly peerId: string | undefined;
  /**
   * The client's full ferry ID (public, like the key it names), once known: what an operator passes to
   * `ferry allow` to admit a refused client.
   */
  readonly clientId: string | undefined;
  /** The client's name from the allow-list, if it has one. */
  readonly clientName: string | undefined;
}

/** One transfer as the server sees it. */
export interface ServerTransfer extends SessionPeer {
  /** Unique within the server's life: `sessionId:ref`. */
  readonly transferId: string;
  /** The client's ref for this transfer (PROTOCOL.md §5.1). */
  readonly ref: number;
  readonly direction: ServerTransferDirection;
  /** The remote path as the client named it (relative to the client's root): never a server path. */
  readonly path: string;
  readonly size: number;
  /** When the transfer started (ms since the epoch, from the server's clock). */
  readonly startedAt: number;
  /**
   * True for a delta (PROTOCOL.md §5.17): the bytes held at its start are the receiver's old file's, not an
   * earlier attempt's, so it did not resume anything.
   */
  readonly delta?: boolean;
}

/** What one session carried, reported when it ends (admitted or not). */
export interface SessionStats {
  /** File bytes received (uploads). */
  readonly bytesReceived: number;
  /** File bytes sent (downloads). */
  readonly bytesSent: number;
  /** Uploads placed (or found identical). */
  readonly filesReceived: number;
  /** Downloads served to the end. */
  readonly filesSent: number;
  readonly durationMs: number;
}

/**
 * What a {@link FerryServer} reports about its sessions and transfers, in order, for dashboards and logs.
 * Every event has `time` (ms since the epoch).
 *
 * - `session-opened`: a client was admitted. `session-refused`: a connection ended before admission
 *   (refused key, failed handshake), with its code. `session-closed`: an admitted session ended; `result`
 *   is `ok` or the code that ended it. Both end events carry the session's {@link SessionStats}.
 * - `operation-refused`: the server ended one of the client's operations (`ref`) with an ERROR of `code`
 *   (an offer over a different file, a path outside the client's root, a failed write...). It names what
 *   the wire may not (PROTOCOL.md §5.1), for the server's own log and dashboard: the requested `path`, the
 *   server's own `file` and the `errno` when a file-system call failed. A transfer already started also
 *   gets its `transfer-failed`.
 * - `transfer-started` (with the bytes the server already held verified), `progress`, `transfer-finished`
 *   (with the file digest), `transfer-failed` (with its code), for both directions. For an upload
 *   `verifiedBytes` counts bytes the server verified and made durable; for a download, bytes it hashed and
 *   sent (the client verifies them on arrival).
 * - `entry-removed`: the server removed one file, link or empty directory at the client's request
 *   (REMOVE_REQUEST, PROTOCOL.md §5.16: `ferry sync --delete`, or an entry of SRC's replaced by one of another
 *   kind). `attributes-set`: it gave one file the client's mode and mtime without its data (SET_ATTRIBUTES,
 *   §5.19: a sync where only those differ); `mode` is the one it set (narrowed as a received file's). Neither
 *   moves file data; a refused one is an `operation-refused`.
 */
export type ServerEvent =
  | ({ type: 'session-opened'; time: number } & SessionPeer)
  | ({ type: 'session-refused'; time: number; code: ErrorCode } & SessionStats & SessionPeer)
  | ({ type: 'session-closed'; time: number; result: 'ok' | ErrorCode } & SessionStats & SessionPeer)
  | ({
      type: 'operation-refused';
      time: number;
      ref: number;
      code: ErrorCode;
      /** The remote path the operation named, if it named one. */
      path: string | undefined;
      /** The server's own file the error is about (FerryError `subject`): a server path. */
      file: string | undefined;
      /** The errno of the system error behind the refusal (`EIO`, `ENOSPC`...), if one is. */
      errno: string | undefined;
      /** The coded detail the ERROR carried. */
      detail: string | undefined;
    } & SessionPeer)
  | {
      type: 'transfer-started';
      time: number;
      transfer: ServerTransfer;
      heldBytes: number;
      restarted: boolean;
    }
  | { type: 'progress'; time: number; transfer: ServerTransfer; verifiedBytes: number }
  | {
      type: 'transfer-finished';
      time: number;
      transfer: ServerTransfer;
      /** The file digest (PROTOCOL.md §7.2), hex. */
      digest: string;
      /** File bytes that crossed the wire in this session. */
      transferredBytes: number;
      /** The destination already held this content. */
      identical: boolean;
      durationMs: number;
    }
  | { type: 'transfer-failed'; time: number; transfer: ServerTransfer; code: ErrorCode }
  | ({
      type: 'entry-removed';
      time: number;
      ref: number;
      /** The remote path as the client named it (relative to the client's root): never a server path. */
      path: string;
      /** What was there: an object store's removals are always `file` (a directory is no object). */
      kind: RemovedKind;
    } & SessionPeer)
  | ({
      type: 'attributes-set';
      time: number;
      ref: number;
      /** The remote path as the client named it (relative to the client's root): never a server path. */
      path: string;
      /** The permission bits set. */
      mode: number;
      mtimeMs: number;
    } & SessionPeer);

/** The `type` of every {@link ServerEvent}. */
export type ServerEventType = ServerEvent['type'];

/** Listener signatures: each type under its own name, and every event under `event`. */
export type ServerEventMap = { event: [ServerEvent] } & {
  [K in ServerEventType]: [Extract<ServerEvent, { type: K }>];
};

/** Hands one event to every listener. */
type Publish = (event: ServerEvent) => void;

/**
 * A server's event stream (`server.events`): listen with `on('event', ...)` for all of them or
 * `on('transfer-finished', ...)` for one type. A throwing listener never disturbs a transfer: its error is
 * reported as a process warning.
 */
export class ServerEvents extends EventEmitter<ServerEventMap> {
  readonly #now: () => number;
  #nextSessionId = 1;

  constructor(options: { now?: () => number } = {}) {
    super();
    this.#now = options.now ?? Date.now;
  }

  /** Starts reporting one connection. Internal to the server. */
  openSession(address: string): SessionEvents {
    return new SessionEvents(this.#nextSessionId++, address, (event) => this.#publish(event), this.#now);
  }

  #publish(event: ServerEvent): void {
    try {
      // Each event goes under its own type's name; TypeScript cannot correlate the union with the map.
      (this.emit as (name: ServerEventType, event: ServerEvent) => boolean)(event.type, event);
      this.emit<'event'>('event', event);
    } catch (err) {
      process.emitWarning(`ferry server event listener threw: ${String(err)}`);
    }
  }
}

/** Facts a handler reports when a transfer starts. */
export interface TransferStart {
  direction: ServerTransferDirection;
  path: string;
  size: number;
  heldBytes: number;
  restarted: boolean;
  /** A delta upload (its old file signed for it). A download is one if this session signed its file before. */
  delta?: boolean;
}

/** Paths a session remembers having signed for a delta download, most recent last. */
const SIGNED_PATHS = 64;

/**
 * The events of one session, keyed by the client's refs. It remembers which transfers are open, so a
 * session that ends reports each of them as failed, and a failure for a ref that never started a transfer
 * (a refused listing, say) reports nothing.
 */
export class SessionEvents {
  readonly #sessionId: number;
  readonly #address: string;
  readonly #publish: Publish | undefined;
  readonly #now: () => number;
  readonly #open = new Map<number, ServerTransfer>();
  /** Paths this session sent a delta download's signature of (`signed`), not yet requested since. */
  readonly #signed = new Set<string>();
  #peerId: string | undefined;
  #clientId: string | undefined;
  #clientName: string | undefined;
  #admitted = false;
  #ended = false;

  constructor(
    sessionId: number,
    address: string,
    publish: Publish | undefined,
    now: () => number = Date.now,
  ) {
    this.#sessionId = sessionId;
    this.#address = address;
    this.#publish = publish;
    this.#now = now;
  }

  /** A sink that reports nothing (for handlers run outside a server, as in unit tests). */
  /** The session's number on this server (from 1; 0 for a session without events): later sessions are higher. */
  get sessionId(): number {
    return this.#sessionId;
  }

  static none(): SessionEvents {
    return new SessionEvents(0, '', undefined);
  }

  get #peer(): SessionPeer {
    return {
      sessionId: this.#sessionId,
      address: this.#address,
      peerId: this.#peerId,
      clientId: this.#clientId,
      clientName: this.#clientName,
    };
  }

  /** The client's key is known (before admission is decided): its short and full ferry IDs. */
  identified(peerId: string, clientId?: string): void {
    this.#peerId = peerId;
    this.#clientId = clientId;
  }

  /** The client was admitted. */
  admitted(clientName: string | undefined): void {
    this.#clientName = clientName;
    this.#admitted = true;
    this.#publish?.({ type: 'session-opened', time: this.#now(), ...this.#peer });
  }

  /**
   * The session ended: `session-closed` if it was admitted (failing every transfer still open with
   * `result`), else `session-refused`. Idempotent.
   */
  ended(result: 'ok' | ErrorCode, stats: SessionStats): void {
    if (this.#ended) return;
    this.#ended = true;
    const time = this.#now();
    if (!this.#admitted) {
      this.#publish?.({
        type: 'session-refused',
        time,
        code: result === 'ok' ? 'CONNECTION_CLOSED' : result,
        ...stats,
        ...this.#peer,
      });
      return;
    }
    for (const ref of [...this.#open.keys()])
      this.transferFailed(ref, result === 'ok' ? 'CONNECTION_CLOSED' : result);
    this.#publish?.({ type: 'session-closed', time, result, ...stats, ...this.#peer });
  }

  /**
   * This session sent the signature of `path` for a delta download (PROTOCOL.md §5.17.2): the client's next
   * request for it claims the leaves it found in its old file, which is a delta, not a resume.
   */
  signed(path: string): void {
    this.#signed.delete(path);
    this.#signed.add(path);
    if (this.#signed.size > SIGNED_PATHS) this.#signed.delete(this.#signed.values().next().value!);
  }

  transferStarted(ref: number, start: TransferStart): void {
    const time = this.#now();
    const signed = start.direction === 'download' && this.#signed.delete(start.path);
    const transfer: ServerTransfer = {
      ...this.#peer,
      transferId: `${this.#sessionId}:${ref}`,
      ref,
      direction: start.direction,
      path: start.path,
      size: start.size,
      startedAt: time,
      ...((start.delta ?? signed) ? { delta: true } : {}),
    };
    this.#open.set(ref, transfer);
    this.#publish?.({
      type: 'transfer-started',
      time,
      transfer,
      heldBytes: start.heldBytes,
      restarted: start.restarted,
    });
  }

  transferProgress(ref: number, verifiedBytes: number): void {
    const transfer = this.#open.get(ref);
    if (transfer) this.#publish?.({ type: 'progress', time: this.#now(), transfer, verifiedBytes });
  }

  transferFinished(
    ref: number,
    facts: { digest: Buffer; transferredBytes: number; identical: boolean },
  ): void {
    const transfer = this.#open.get(ref);
    if (!transfer) return;
    this.#open.delete(ref);
    const time = this.#now();
    this.#publish?.({
      type: 'transfer-finished',
      time,
      transfer,
      digest: facts.digest.toString('hex'),
      transferredBytes: facts.transferredBytes,
      identical: facts.identical,
      durationMs: time - transfer.startedAt,
    });
  }

  /** The server removed the entry at the client's `path` (REMOVE_REQUEST `ref`): a file, link or directory. */
  entryRemoved(ref: number, path: string, kind: RemovedKind): void {
    this.#publish?.({ type: 'entry-removed', time: this.#now(), ref, path, kind, ...this.#peer });
  }

  /** The server gave the file at the client's `path` this mode and mtime (SET_ATTRIBUTES `ref`), no data. */
  attributesSet(ref: number, path: string, attributes: { mode: number; mtimeMs: number }): void {
    this.#publish?.({ type: 'attributes-set', time: this.#now(), ref, path, ...attributes, ...this.#peer });
  }

  /**
   * The server ended operation `ref` with `error` (sent to the client as an ERROR): `operation-refused`,
   * then `transfer-failed` if it was a started transfer.
   */
  operationRefused(ref: number, error: FerryError, path?: string): void {
    this.#publish?.({
      type: 'operation-refused',
      time: this.#now(),
      ref,
      code: error.code,
      path,
      file: error.subject,
      errno: systemErrno(error),
      detail: error.detail,
      ...this.#peer,
    });
    this.transferFailed(ref, error.code);
  }

  transferFailed(ref: number, code: ErrorCode): void {
    const transfer = this.#open.get(ref);
    if (!transfer) return;
    this.#open.delete(ref);
    this.#publish?.({ type: 'transfer-failed', time: this.#now(), transfer, code });
  }
}

/** The errno of the Node system error behind `error`, if one is (see toFerryError). */
function systemErrno(error: FerryError): string | undefined {
  const code = (error.cause as { code?: unknown } | null | undefined)?.code;
  // Node's system errors only, not a coded error wrapped in another.
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}
