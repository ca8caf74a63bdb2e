import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, toFerryError, type ErrorCode } from '../errors/index.js';
import { formatFerryId, shortFerryId } from '../crypto/index.js';
import { FramedSocket, serverHandshake, type ReusedReads, type SecureChannel } from '../channel/index.js';
import { errorMessageFor, settleReceived, type Message } from '../protocol/index.js';
import { UploadLane } from '../machines/index.js';
import { SessionIo, type SessionContext } from './session-io.js';
import { UploadReceiver } from './upload-receiver.js';
import { BatchUploads } from './batch-uploads.js';
import { DownloadQueue } from './download-queue.js';
import type { SessionEvents } from './server-events.js';
import { SessionKeepalive } from './session-keepalive.js';
import { sendKeyRotation } from './send-key-rotation.js';
import { admitClient } from './admit-client.js';
import { endSessionWithError } from './end-session-with-error.js';
import { OperationRouter } from './operation-router.js';
import type { SessionState } from './session-state.js';

/**
 * Serves one session: handshake, admission before anything else (PROTOCOL.md §3.2.2, `admitClient`), then
 * the receive loop, which hands each message to the session's `OperationRouter` (§6.1), and the session's
 * end. Handlers return outcomes or throw coded errors; only this class and its router send an ERROR.
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
  #router: OperationRouter | undefined;
  /** An error that ended the session outside the receive loop (a download's, a revoke's). */
  #fatal: FerryError | undefined;
  /** The ERROR and clean end of a session ended from outside (`#endBy`), awaited before the close. */
  #ending: Promise<void> | undefined;
  /** KEEPALIVE while the server works for the client without sending (PROTOCOL.md §5.18), for the router. */
  #keepalive: SessionKeepalive | undefined;
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
      const grant = await admitClient(this.#ctx, channel, {
        mode,
        socket: this.#socket,
        log: this.#log,
        acceptedAt: startedAt,
        signal,
      });
      if (grant instanceof FerryError) {
        // PROTOCOL.md §3.2.2: refused (not allowed, the allow-list unreadable, too many sessions) before a
        // single record is read.
        result = grant.code;
        this.#enter('refusal');
        await endSessionWithError(channel, this.#framed, grant);
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
      const router = new OperationRouter({
        io,
        lane: this.#lane,
        downloads: this.#downloads,
        uploads: this.#uploads,
        batches: this.#batches,
        keepalive: this.#keepalive,
        events: this.#events,
        session: {
          fatal: () => this.#fatal,
          fail: (error) => {
            this.#fatal ??= error;
            return this.#reportSessionError(error);
          },
          close: (error) => this.#channel?.close(error),
          sendError: (ref, error) => this.#sendError(ref, error),
        },
      });
      this.#router = router;
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
          await router.route(message);
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
        filesSent: this.#router?.filesSent ?? 0,
        bytesSent: this.#router?.sentBytes ?? 0,
        durationMs: Date.now() - startedAt,
      });
    }
  }

  /**
   * Ends this live session from outside (its key revoked through any server of the cluster): the coded
   * ERROR with ref 0 (PROTOCOL.md §3.2.2), a clean end of stream so the client reads it, then the close.
   * No further message of the client is acted on (`OperationRouter.route` checks `#fatal` first).
   */
  #endBy(error: FerryError): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = error;
    this.#ending = endSessionWithError(this.#channel!, this.#framed, error)
      .catch(() => undefined)
      .finally(() => this.#channel?.close(error));
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
