import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, toFerryError, type ErrorCode } from '../errors/index.js';
import { formatFerryId, shortFerryId } from '../crypto/index.js';
import {
  FramedSocket,
  MODE_NORMAL,
  serverHandshake,
  type ReusedReads,
  type SecureChannel,
} from '../channel/index.js';
import {
  MAX_PIPELINED,
  errorMessageFor,
  settleReceived,
  type GetBatchMessage,
  type GetRequestMessage,
  type Message,
} from '../protocol/index.js';
import { UploadLane } from '../machines/index.js';
import { SessionIo, type ClientGrant, type SessionContext } from './session-io.js';
import { UploadReceiver, type UploadOutcome } from './upload-receiver.js';
import { BatchUploads } from './batch-uploads.js';
import { sendDownload } from './download-sender.js';
import { sendBatchDownload } from './batch-download.js';
import { CANCELLED_BY_CLIENT, DownloadQueue } from './download-queue.js';
import { sendListing } from './listing.js';
import type { SessionEvents } from './server-events.js';
import { handleTreeEntryRequest } from './tree-entry-request.js';
import { SessionKeepalive } from './session-keepalive.js';
import { sendKeyRotation } from './send-key-rotation.js';
import { lingerForClientClose } from './linger-for-client-close.js';
import { sourceOf } from './handshake-rate-limit.js';
import type { SessionState } from './session-state.js';

/** Error categories that end one operation but leave the session open (PROTOCOL.md §5.1). */
const OPERATION_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/**
 * Serves one session: handshake, admission before anything else (PROTOCOL.md §3.2.2), then a router from
 * refs to handlers. Its UploadLane (src/machines/) says which handler gets each message (§6.1); uploads,
 * listings and directory entries run in arrival order in the receive loop, downloads one at a time in
 * arrival order on their own queue while the loop keeps reading (§5.11.4), so a CANCEL can stop one (§5.9).
 * Handlers return outcomes or throw coded errors; only this class sends an ERROR.
 */
export class ServerSession {
  readonly #ctx: SessionContext;
  readonly #socket: Socket;
  readonly #framed: FramedSocket;
  readonly #log: Logger;
  readonly #events: SessionEvents;
  readonly #lane = new UploadLane();
  readonly #downloads = new DownloadQueue();
  #channel: SecureChannel | undefined;
  #uploads: UploadReceiver | undefined;
  #batches: BatchUploads | undefined;
  /** The open upload's ref and remote path, for the log of a refusal (never for the wire). */
  #upload: { ref: number; path: string } | undefined;
  /** An error that ended the session outside the receive loop (a download's, a revoke's). */
  #fatal: FerryError | undefined;
  /** The ERROR and clean end of a session ended from outside (`#endBy`), awaited before the close. */
  #ending: Promise<void> | undefined;
  /**
   * KEEPALIVE while the server works for the client without sending (PROTOCOL.md §5.18): every operation that
   * can keep the client waiting runs inside its `whileBusy`, here and nowhere else.
   */
  #keepalive: SessionKeepalive | undefined;
  #sentBytes = 0;
  #filesSent = 0;
  /** What `run` awaits now, and since when (`state`): a step's name, or the message it handles. */
  #phase: string | Message = 'handshake';
  #phaseSince = Date.now();

  /** With `reads`, the `onread` `socket` was created with: records arrive in its reused buffer (issue 14). */
  constructor(ctx: SessionContext, socket: Socket, reads?: ReusedReads) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#framed = new FramedSocket(socket, reads);
    this.#log = ctx.logger.child({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    this.#events = ctx.events.openSession(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
  }

  /** What this session is doing now (`FerryServer.sessionStates`). */
  get state(): SessionState {
    return {
      sessionId: this.#events.sessionId,
      address: `${this.#socket.remoteAddress ?? '?'}:${this.#socket.remotePort ?? '?'}`,
      phase: typeof this.#phase === 'string' ? this.#phase : phaseOf(this.#phase),
      phaseMs: Date.now() - this.#phaseSince,
      connection: this.#socket.destroyed ? 'closed' : 'open',
      background: {
        upload: this.#uploads?.receiving,
        finishes: this.#uploads?.finishing ?? 0,
        batches: this.#batches?.settling ?? 0,
        batchOpen: this.#batches?.receiving ?? false,
        downloads: this.#downloads.size,
      },
    };
  }

  #enter(phase: string | Message): void {
    this.#phase = phase;
    this.#phaseSince = Date.now();
  }

  /** Runs the session to its end; never throws (every failure is logged and closes the socket). */
  async run(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    let result = 'ok';
    let unregister: (() => void) | undefined;
    try {
      const { channel, mode } = await serverHandshake(this.#framed, {
        identity: this.#ctx.identity,
        timeoutMs: this.#ctx.handshakeTimeoutMs,
        signal,
        holdUntilAdmitted: true,
      });
      this.#channel = channel;
      this.#log.setBindings({ peer: shortFerryId(channel.remotePublicKey) });
      this.#events.identified(shortFerryId(channel.remotePublicKey), formatFerryId(channel.remotePublicKey));
      this.#enter('admission');
      const looked =
        mode === MODE_NORMAL
          ? await this.#authorize(channel)
          : // PROTOCOL.md §12.5: pairing instead of the allow-list; it throws after its own ERROR.
            await this.#ctx.pairing?.admit({
              channel,
              serverPublicKey: this.#ctx.identity.publicKey,
              log: this.#log,
              acceptedAt: startedAt,
              timeoutMs: this.#ctx.handshakeTimeoutMs,
              source: sourceOf(this.#socket.remoteAddress ?? ''),
              signal,
            });
      if (looked instanceof FerryError) {
        // PROTOCOL.md §3.2.2: the allow-list cannot be read (admit nobody on a copy that may be stale), or
        // refuses the key with a detail for the client (a cluster's list).
        result = looked.code;
        this.#enter('refusal');
        await this.#sendError(0, looked);
        await channel.end();
        await lingerForClientClose(this.#framed);
        return;
      }
      const grant = looked;
      if (!grant) {
        // PROTOCOL.md §3.2.2: refuse before reading a single record.
        result = 'CLIENT_NOT_ALLOWED';
        this.#enter('refusal');
        await this.#sendError(0, new FerryError('CLIENT_NOT_ALLOWED'));
        await channel.end();
        // The client's first requests are on the way (pipelined behind the handshake): closing now would
        // answer them with a reset, which can reach the client before the ERROR is read (a retry instead of
        // the refusal).
        await lingerForClientClose(this.#framed);
        return;
      }
      if (!this.#ctx.gate.authenticated(this.#socket, channel.remotePublicKey)) {
        result = 'SERVER_BUSY';
        this.#enter('refusal');
        await this.#sendError(0, new FerryError('SERVER_BUSY', 'too many sessions for this client'));
        await channel.end();
        await lingerForClientClose(this.#framed);
        return;
      }
      // Uploads' records are opened and hashed on the pool's workers (issue 14); short records stay here. Only
      // now, admitted: before, what a peer nobody allowed pipelined behind its handshake was decrypted on the
      // workers, up to their window (~10-18 MiB a connection), while the allow-list or a pairing was awaited
      // (docs/SECURITY.md, stop 36). Until here a normal session's records are not read at all (stop 37: they
      // were opened on the event loop, up to 1 MiB); a pairing's are, on the event loop.
      // What uploads received and did not write yet is counted against the client's share of the upload
      // memory and the total (docs/SECURITY.md "Upload memory"): past either the socket is not read until
      // the session's own data is written.
      const uploadMemory = this.#ctx.uploadMemory?.hold(channel.remotePublicKey.toString('hex'), 0);
      if (uploadMemory) channel.countReceived(uploadMemory);
      if (this.#ctx.sealPool) channel.openInParallel(this.#ctx.sealPool);
      channel.releaseRecords();
      unregister = this.#ctx.admitted?.add(channel.remotePublicKey, (error) => this.#endBy(error));
      if (grant.name) this.#log.setBindings({ client: grant.name });
      this.#events.admitted(grant.name);
      // Waits of the session's own (an upload's delta memory) end with its connection, not after it.
      const connection = new AbortController();
      this.#socket.once('close', () =>
        connection.abort(new FerryError('CONNECTION_CLOSED', 'the connection closed')),
      );
      this.#downloads.endWith(connection.signal);
      const io = new SessionIo(
        this.#ctx,
        channel.remotePublicKey,
        grant,
        this.#log,
        {
          send: (message) => channel.send(message),
          sendPlaintext: (plaintext) => channel.sendPlaintext(plaintext),
          sendPlaintexts: (plaintexts) => channel.sendPlaintexts(plaintexts),
          reserveRecords: (count) => channel.reserveRecords(count),
          writeFramed: (framed, records) => channel.writeFramed(framed, records),
        },
        this.#events,
        connection.signal,
      );
      this.#keepalive = new SessionKeepalive(
        () => channel.send({ type: 'KEEPALIVE' }),
        this.#ctx.keepaliveMs,
      );
      this.#uploads = new UploadReceiver(io);
      this.#batches = new BatchUploads(io);
      this.#socket.setTimeout(this.#ctx.idleTimeoutMs, () =>
        channel.close(new FerryError('TIMEOUT', `idle for ${this.#ctx.idleTimeoutMs} ms`)),
      );
      await channel.send({
        type: 'WELCOME',
        permissions: grant.permissions,
        maxFileBytes: this.#ctx.maxFileBytes,
      });
      await sendKeyRotation(this.#ctx, channel);
      for (;;) {
        this.#enter('next message');
        const message = await channel.receive();
        // The message itself (its name is made only when asked): one more store per record.
        this.#enter(message);
        try {
          await this.#route(io, this.#uploads, message);
        } finally {
          // Data no writer kept (an existing file's, a cancelled upload's, one copied to a store's part) is
          // given back now, or its block would stay counted against the upload memory.
          if (message.type === 'PUT_DATA') settleReceived(message.data);
        }
      }
    } catch (err) {
      const error = this.#fatal ?? toFerryError(err);
      // A client closing between operations is the normal end of a session.
      const clean =
        error.code === 'CONNECTION_CLOSED' && this.#channel !== undefined && this.#lane.state === 'open';
      if (!clean) {
        result = error.code;
        this.#enter(`reporting ${error.code}`);
        await this.#reportSessionError(error);
      }
    } finally {
      this.#keepalive?.close();
      unregister?.();
      this.#enter('end: revoke');
      await this.#ending;
      this.#enter('end: uploads');
      await this.#uploads?.close();
      this.#enter('end: batches');
      await this.#batches?.abandon();
      this.#enter('end: downloads');
      const downloadsStopped = this.#downloads.close(new FerryError('CONNECTION_CLOSED', 'session ended'));
      this.#channel?.close();
      this.#framed.close();
      await downloadsStopped;
      this.#enter('ended');
      // The log's session line and refusals come from these events (server-log.ts).
      this.#events.ended(result as 'ok' | ErrorCode, {
        filesReceived: (this.#uploads?.files ?? 0) + (this.#batches?.files ?? 0),
        bytesReceived: (this.#uploads?.bytes ?? 0) + (this.#batches?.bytes ?? 0),
        filesSent: this.#filesSent,
        bytesSent: this.#sentBytes,
        durationMs: Date.now() - startedAt,
      });
    }
  }

  /**
   * The allow-list lookup (PROTOCOL.md §3.2.2). A lookup that cannot be made (a cluster's etcd unreachable)
   * fails closed: SERVER_BUSY is returned, for `run` to send as its coded, retryable ERROR and end the
   * session cleanly, so the client retries instead of reading a reset. A CLIENT_NOT_ALLOWED thrown (a
   * cluster's refusal, with its detail) is returned the same way.
   */
  async #authorize(channel: SecureChannel): Promise<ClientGrant | FerryError | undefined> {
    try {
      return await this.#ctx.authorize(channel.remotePublicKey);
    } catch (err) {
      const error = toFerryError(err);
      // A refusal with a detail for the client (a cluster's list, PROTOCOL.md §3.2.2) is sent as it is.
      if (error.code === 'SERVER_BUSY' || error.code === 'CLIENT_NOT_ALLOWED') return error;
      throw error;
    }
  }

  /**
   * Ends this live session from outside (its key revoked through any server of the cluster): the coded
   * ERROR with ref 0 (PROTOCOL.md §3.2.2), a clean end of stream so the client reads it, then the close.
   * No further message of the client is acted on (`#route` checks `#fatal` first).
   */
  #endBy(error: FerryError): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = error;
    this.#ending = this.#sendError(0, error)
      .then(() => this.#channel?.end())
      .then(() => lingerForClientClose(this.#framed))
      .catch(() => undefined)
      .finally(() => this.#channel?.close(error));
  }

  /** Hands one message to its handler, as the lane says (a message it refuses fails the session). */
  async #route(io: SessionIo, uploads: UploadReceiver, message: Message): Promise<void> {
    // Ended from outside (a revoke): nothing more the client sent is acted on.
    if (this.#fatal !== undefined) throw this.#fatal;
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
          if (message.type === 'PUT_BATCH') await this.#busy(this.#batches!.admit());
          const { finished } = this.#batches!.receive(message);
          if (finished)
            void this.#busy(finished).catch((err: unknown) => {
              const error = toFerryError(err);
              this.#fatal ??= error;
              void this.#reportSessionError(error);
              this.#channel?.close(error);
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
        this.#fatal ??= error;
        await this.#reportSessionError(error);
        this.#channel?.close(error);
      } finally {
        this.#lane.downloadEnded(ref);
      }
    });
  }

  /** `work`, with KEEPALIVE going out while it runs (PROTOCOL.md §5.18). */
  #busy<T>(work: Promise<T>): Promise<T> {
    return this.#keepalive ? this.#keepalive.whileBusy(work) : work;
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
    if (closeUpload) await this.#uploads?.closeActive();
    await this.#refuse(ref, error, path ?? this.#pathOf(ref));
  }

  /**
   * Sends the ERROR for `ref`. The log names what the wire may not (PROTOCOL.md §5.1): the requested path,
   * the server's own file and the errno, so an operator can tell which file a refusal was about and why.
   */
  async #refuse(ref: number, error: FerryError, path: string | undefined): Promise<void> {
    // The log's line comes from this event (server-log.ts), with what the wire may not carry.
    this.#events.operationRefused(ref, error, path);
    await this.#sendError(ref, error).catch(() => undefined);
  }

  /**
   * Protocol errors are named to the peer; anything unexpected goes out as a bare INTERNAL, so the client
   * sees a coded error rather than a silent close (and learns nothing about the cause).
   */
  async #reportSessionError(error: FerryError): Promise<void> {
    const reportable = error.category === 'protocol' || error.category === 'internal';
    if (reportable && error.wireCode !== null && this.#channel && !this.#channel.closed)
      await this.#sendError(0, error).catch(() => undefined);
  }

  async #sendError(ref: number, error: FerryError): Promise<void> {
    // PROTOCOL.md §5.1: the wire gets the code and the coded detail only, never a path or a stack.
    await this.#channel?.send(errorMessageFor(ref, error));
  }
}

/** A message's phase name: its type and ref (never a path). */
function phaseOf(message: Message): string {
  return 'ref' in message ? `${message.type} ref ${message.ref}` : message.type;
}
