import { FerryError, toFerryError } from '../errors/index.js';
import {
  MAX_PIPELINED,
  type GetBatchMessage,
  type GetRequestMessage,
  type Message,
} from '../protocol/index.js';
import type { UploadLane } from '../machines/index.js';
import type { SessionIo } from './session-io.js';
import type { UploadReceiver, UploadOutcome } from './upload-receiver.js';
import type { BatchUploads } from './batch-uploads.js';
import { sendDownload } from './download-sender.js';
import { sendBatchDownload } from './batch-download.js';
import { CANCELLED_BY_CLIENT, type DownloadQueue } from './download-queue.js';
import { sendListing } from './listing.js';
import type { SessionEvents } from './server-events.js';
import { handleTreeEntryRequest } from './tree-entry-request.js';
import type { SessionKeepalive } from './session-keepalive.js';

/** Error categories that end one operation but leave the session open (PROTOCOL.md §5.1). */
const OPERATION_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/**
 * What the router asks of the session around it: the session owns the channel, so an ERROR and the session's
 * end go through it.
 */
export interface RoutedSession {
  /** An error that ended the session outside the receive loop (a download's, a revoke's), if one did. */
  fatal(): FerryError | undefined;
  /**
   * Keeps `error` as the session's end (unless one is kept already) and sends its ERROR with ref 0 when it is
   * one the peer is told of (a protocol or internal error); resolves once sent. The close is `close`'s.
   */
  fail(error: FerryError): Promise<void>;
  /** Closes the session's channel with `error`. */
  close(error: FerryError): void;
  /** Sends the ERROR for `ref` (PROTOCOL.md §5.1). */
  sendError(ref: number, error: FerryError): Promise<void>;
}

/** An admitted session's handlers and the rules that order them (`OperationRouter`). */
export interface OperationRouterOptions {
  readonly io: SessionIo;
  readonly lane: UploadLane;
  readonly downloads: DownloadQueue;
  readonly uploads: UploadReceiver;
  readonly batches: BatchUploads;
  /**
   * KEEPALIVE while the server works for the client without sending (PROTOCOL.md §5.18): every operation that
   * can keep the client waiting runs inside its `whileBusy`, here and nowhere else.
   */
  readonly keepalive: SessionKeepalive;
  readonly events: SessionEvents;
  readonly session: RoutedSession;
}

/**
 * An admitted session's router from refs to handlers. Its UploadLane (src/machines/) says which handler gets
 * each message (§6.1); uploads, listings and directory entries run in arrival order in the receive loop,
 * downloads one at a time in arrival order on their own queue while the loop keeps reading (§5.11.4), so a
 * CANCEL can stop one (§5.9). Handlers return outcomes or throw coded errors; the router decides whether one
 * ends its operation (an ERROR for its ref) or the session, whose ERROR only the session sends.
 */
export class OperationRouter {
  readonly #io: SessionIo;
  readonly #lane: UploadLane;
  readonly #downloads: DownloadQueue;
  readonly #uploads: UploadReceiver;
  readonly #batches: BatchUploads;
  readonly #keepalive: SessionKeepalive;
  readonly #events: SessionEvents;
  readonly #session: RoutedSession;
  /** The open upload's ref and remote path, for the log of a refusal (never for the wire). */
  #upload: { ref: number; path: string } | undefined;
  #sentBytes = 0;
  #filesSent = 0;

  constructor(options: OperationRouterOptions) {
    this.#io = options.io;
    this.#lane = options.lane;
    this.#downloads = options.downloads;
    this.#uploads = options.uploads;
    this.#batches = options.batches;
    this.#keepalive = options.keepalive;
    this.#events = options.events;
    this.#session = options.session;
  }

  /** Bytes of files sent to the client, by downloads that completed. */
  get sentBytes(): number {
    return this.#sentBytes;
  }

  /** Files sent to the client, by downloads that completed. */
  get filesSent(): number {
    return this.#filesSent;
  }

  /** Hands one message to its handler, as the lane says (a message it refuses fails the session). */
  async route(message: Message): Promise<void> {
    const io = this.#io;
    const uploads = this.#uploads;
    // Ended from outside (a revoke): nothing more the client sent is acted on.
    const fatal = this.#session.fatal();
    if (fatal !== undefined) throw fatal;
    const route = this.#lane.route(message);
    if (route === 'discard' || !('ref' in message)) return;
    const { ref } = message;
    if (route === 'cancel-download') return this.#downloads.cancel(ref);
    if (message.type === 'GET_REQUEST' || message.type === 'GET_BATCH') {
      // Bounded like every pipelined operation (PROTOCOL.md §10): past it the loop waits, as it used to
      // while a download was sent, and TCP pushes back on the client.
      await this.#downloads.roomFor(MAX_PIPELINED);
      return this.#queueDownload(io, message);
    }
    try {
      switch (message.type) {
        case 'PUT_OFFER':
          this.#upload = { ref, path: message.path };
          // Before PUT_ACCEPT: a claim waited for, held chunks re-hashed, an existing file hashed (§5.4).
          this.#follow(ref, await this.#busy(uploads.offer(message)));
          return;
        case 'PUT_DATA':
        case 'PUT_COPY':
        case 'PUT_CHUNK':
        case 'PUT_END':
          this.#follow(ref, await uploads.receive(message));
          return;
        case 'CANCEL':
        case 'ERROR':
          // Routed `end-upload`: the open upload's own (the lane discarded or redirected any other).
          await uploads.endByClient(message);
          return;
        case 'LIST_REQUEST':
          await this.#busy(sendListing(io, message));
          return;
        case 'PUT_BATCH':
        case 'BATCH_END': {
          // PROTOCOL.md §5.14: a batch is written in the background; what fails it ends the session.
          // A new batch first waits for room among the batches the server holds (BatchAdmission).
          if (message.type === 'PUT_BATCH') await this.#busy(this.#batches.admit());
          const { finished } = this.#batches.receive(message);
          if (finished)
            void this.#busy(finished).catch((err: unknown) => {
              const error = toFerryError(err);
              void this.#session.fail(error);
              this.#session.close(error);
            });
          return;
        }
        case 'PUT_DIR':
        case 'PUT_LINK':
        case 'REMOVE_REQUEST':
        case 'SET_ATTRIBUTES':
          // In arrival order, after the batches sent before them (tree-entry-request.ts).
          await handleTreeEntryRequest(io, message, this.#batches);
          return;
        default:
          // The lane lets no other message through.
          throw new FerryError('INTERNAL', `${message.type} routed ${route}`);
      }
    } catch (err) {
      const error = toFerryError(err);
      if (this.#lane.discards(ref)) return; // already ended (taken over) while this step ran
      // An offer whose claim the coordination service could not grant (etcd unreachable, docs/ARCHITECTURE.md
      // "Coordination") fails closed for that offer alone, with the retryable SERVER_BUSY.
      // A listing past the listing memory (listing-memory.ts) likewise fails alone: the session held nothing
      // of it after, and a retry later may fit.
      const unclaimable =
        (message.type === 'PUT_OFFER' || message.type === 'LIST_REQUEST') && error.code === 'SERVER_BUSY';
      if (!OPERATION_SCOPED.has(error.category) && !unclaimable) throw error;
      await this.#failOperation(ref, error, 'path' in message ? message.path : undefined);
    }
  }

  /** Watches how an upload may still end after its step returned: taken over, or its background finish. */
  #follow(ref: number, outcome: UploadOutcome): void {
    // PROTOCOL.md §6.2: the session whose transfer was taken over says so at once, not at its next message.
    void outcome.takenOver?.then(() => {
      if (this.#lane.takenOver(ref))
        return this.#refuse(ref, new FerryError('TRANSFER_TAKEN_OVER'), this.#pathOf(ref));
    });
    // Before PUT_DONE: the file made durable and placed (an object store copies every part, §5.6).
    if (outcome.finished)
      void this.#busy(outcome.finished).catch((err: unknown) =>
        this.#failOperation(ref, toFerryError(err), this.#pathOf(ref)),
      );
  }

  /** Queues a GET_REQUEST or a GET_BATCH (§5.20); its job reports every way the download ends. */
  #queueDownload(io: SessionIo, request: GetRequestMessage | GetBatchMessage): void {
    const { ref } = request;
    this.#downloads.add(ref, async (signal) => {
      try {
        if (request.type === 'GET_BATCH') {
          // Counted answered as its last record goes (§5.20): the lane's bound is on what the client may send.
          const answered = (): void => this.#lane.downloadEnded(ref);
          const sent = await this.#busy(sendBatchDownload(io.until(signal), request, answered));
          this.#sentBytes += sent.bytes;
          this.#filesSent += sent.files;
          return;
        }
        // Before GET_OFFER the server may hash the file (§5.11.1, §5.11.2); after it, data flows anyway.
        this.#sentBytes += await this.#busy(sendDownload(io.until(signal), request));
        this.#filesSent++;
      } catch (err) {
        const error = toFerryError(err);
        if (signal.aborted) {
          // PROTOCOL.md §5.9: cancelled by the client, which is sent nothing more for the ref; a session
          // ending fails its open transfers itself (SessionEvents.ended).
          if (signal.reason === CANCELLED_BY_CLIENT) this.#events.transferFailed(ref, 'ABORTED');
          return;
        }
        if (OPERATION_SCOPED.has(error.category)) {
          await this.#failOperation(ref, error, 'path' in request ? request.path : undefined);
          return;
        }
        // Anything else ends the session, as it would have inside the receive loop.
        await this.#session.fail(error);
        this.#session.close(error);
      } finally {
        this.#lane.downloadEnded(ref);
      }
    });
  }

  /** `work`, with KEEPALIVE going out while it runs (PROTOCOL.md §5.18). */
  #busy<T>(work: Promise<T>): Promise<T> {
    return this.#keepalive.whileBusy(work);
  }

  #pathOf(ref: number): string | undefined {
    return this.#upload?.ref === ref ? this.#upload.path : undefined;
  }

  /**
   * Ends one operation with an ERROR for its ref (PROTOCOL.md §5.1); the lane says whether the ref's later
   * messages are discarded and whether the open upload was this one, which is then closed (its partial kept).
   */
  async #failOperation(ref: number, error: FerryError, path: string | undefined): Promise<void> {
    const { closeUpload } = this.#lane.operationFailed(ref);
    if (closeUpload) await this.#uploads.closeActive();
    await this.#refuse(ref, error, path ?? this.#pathOf(ref));
  }

  /**
   * Sends the ERROR for `ref`. The log names what the wire may not (PROTOCOL.md §5.1): the requested path,
   * the server's own file and the errno, so an operator can tell which file a refusal was about and why.
   */
  async #refuse(ref: number, error: FerryError, path: string | undefined): Promise<void> {
    // The log's line comes from this event (server-log.ts), with what the wire may not carry.
    this.#events.operationRefused(ref, error, path);
    await this.#session.sendError(ref, error).catch(() => undefined);
  }
}
