import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, toFerryError, type ErrorCode } from '../errors/index.js';
import { formatFerryId, shortFerryId } from '../crypto/index.js';
import { FramedSocket, MODE_NORMAL, serverHandshake, type SecureChannel } from '../channel/index.js';
import { MAX_DETAIL_BYTES, type Message } from '../protocol/index.js';
import { SessionIo, type SessionContext } from './session-io.js';
import { UploadReceiver } from './upload-receiver.js';
import { sendDownload } from './download-sender.js';
import { sendListing } from './listing.js';
import type { SessionEvents } from './server-events.js';
import { writeDirectory, writeLink } from './tree-writer.js';

/** Error categories that end one operation but leave the session open (PROTOCOL.md §5.1). */
const OPERATION_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/**
 * Serves one session: handshake, admission before anything else (PROTOCOL.md §3.2.2), then the client's
 * operations strictly in arrival order (§6.2).
 */
export class ServerSession {
  readonly #ctx: SessionContext;
  readonly #socket: Socket;
  readonly #framed: FramedSocket;
  readonly #log: Logger;
  readonly #events: SessionEvents;
  #channel: SecureChannel | undefined;
  #uploads: UploadReceiver | undefined;
  /** Refs whose operation failed here: their remaining in-flight messages are discarded (PROTOCOL.md §5.1). */
  readonly #failedRefs = new Set<number>();
  #sentBytes = 0;
  #downloads = 0;

  constructor(ctx: SessionContext, socket: Socket) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#framed = new FramedSocket(socket);
    this.#log = ctx.logger.child({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    this.#events = ctx.events.openSession(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
  }

  /** Runs the session to its end; never throws (every failure is logged and closes the socket). */
  async run(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    let result = 'ok';
    try {
      const { channel, mode } = await serverHandshake(this.#framed, {
        identity: this.#ctx.identity,
        timeoutMs: this.#ctx.handshakeTimeoutMs,
        signal,
      });
      this.#channel = channel;
      this.#log.setBindings({ peer: shortFerryId(channel.remotePublicKey) });
      this.#events.identified(shortFerryId(channel.remotePublicKey), formatFerryId(channel.remotePublicKey));
      const grant =
        mode === MODE_NORMAL
          ? await this.#ctx.authorize(channel.remotePublicKey)
          : // PROTOCOL.md §12.5: pairing instead of the allow-list; it throws after its own ERROR.
            await this.#ctx.pairing?.admit({
              channel,
              serverPublicKey: this.#ctx.identity.publicKey,
              log: this.#log,
              acceptedAt: startedAt,
              timeoutMs: this.#ctx.handshakeTimeoutMs,
              signal,
            });
      if (!grant) {
        // PROTOCOL.md §3.2.2: refuse before reading a single record.
        result = 'CLIENT_NOT_ALLOWED';
        await this.#sendError(0, new FerryError('CLIENT_NOT_ALLOWED'));
        await channel.end();
        return;
      }
      if (!this.#ctx.gate.authenticated(this.#socket, channel.remotePublicKey)) {
        result = 'SERVER_BUSY';
        await this.#sendError(0, new FerryError('SERVER_BUSY', 'too many sessions for this client'));
        await channel.end();
        return;
      }
      if (grant.name) this.#log.setBindings({ client: grant.name });
      this.#events.admitted(grant.name);
      const io = new SessionIo(
        this.#ctx,
        channel.remotePublicKey,
        grant,
        this.#log,
        {
          send: (message) => channel.send(message),
          sendPlaintext: (plaintext) => channel.sendPlaintext(plaintext),
        },
        this.#events,
      );
      this.#uploads = new UploadReceiver(io, (ref, error, discardFollowing) =>
        this.#failOperation(ref, error, discardFollowing),
      );
      this.#socket.setTimeout(this.#ctx.idleTimeoutMs, () =>
        channel.close(new FerryError('TIMEOUT', `idle for ${this.#ctx.idleTimeoutMs} ms`)),
      );
      await channel.send({
        type: 'WELCOME',
        permissions: grant.permissions,
        maxFileBytes: this.#ctx.maxFileBytes,
      });
      for (;;) await this.#handle(io, await channel.receive());
    } catch (err) {
      const error = toFerryError(err);
      // A client closing between operations is the normal end of a session.
      const clean =
        error.code === 'CONNECTION_CLOSED' &&
        this.#channel !== undefined &&
        this.#uploads?.activeRef === undefined;
      if (!clean) {
        result = error.code;
        // Protocol errors are named to the peer; anything unexpected goes out as a bare INTERNAL, so the
        // client sees a coded error rather than a silent close (and learns nothing about the cause).
        const reportable = error.category === 'protocol' || error.category === 'internal';
        if (reportable && error.wireCode !== null && this.#channel && !this.#channel.closed) {
          await this.#sendError(0, error).catch(() => undefined);
        }
      }
    } finally {
      await this.#uploads?.close();
      this.#channel?.close();
      this.#framed.close();
      // The log's session line and refusals come from these events (server-log.ts).
      this.#events.ended(result as 'ok' | ErrorCode, {
        filesReceived: this.#uploads?.files ?? 0,
        bytesReceived: this.#uploads?.bytes ?? 0,
        filesSent: this.#downloads,
        bytesSent: this.#sentBytes,
        durationMs: Date.now() - startedAt,
      });
    }
  }

  async #handle(io: SessionIo, message: Message): Promise<void> {
    if ('ref' in message && this.#failedRefs.has(message.ref)) {
      if (message.type === 'PUT_END' || message.type === 'CANCEL' || message.type === 'ERROR')
        this.#failedRefs.delete(message.ref);
      return;
    }
    // PROTOCOL.md §6.2: one upload at a time, in order, so a new offer means every earlier ref has sent its
    // last message; a client that stops after an ERROR without PUT_END or CANCEL must not leave its refs here.
    if (message.type === 'PUT_OFFER') this.#failedRefs.clear();
    // PROTOCOL.md §5.1: a client's ERROR only ends one of its uploads (handled with them below).
    if (!('ref' in message) || (message.type === 'ERROR' && message.ref === 0)) {
      throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} from a client`);
    }
    const ref = message.ref;
    try {
      switch (message.type) {
        case 'GET_REQUEST':
          this.#sentBytes += await sendDownload(io, message);
          this.#downloads++;
          return;
        case 'LIST_REQUEST':
          await sendListing(io, message);
          return;
        case 'PUT_DIR':
          await writeDirectory(io, message);
          await io.send({ type: 'ACK', ref });
          return;
        case 'PUT_LINK':
          await writeLink(io, message);
          await io.send({ type: 'ACK', ref });
          return;
        default:
          if (await this.#uploads!.handle(message)) return;
          throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} from a client`);
      }
    } catch (err) {
      const error = toFerryError(err);
      if (this.#failedRefs.has(ref)) return; // already ended (taken over) while this step ran
      if (!OPERATION_SCOPED.has(error.category)) throw error;
      // Only an upload can have more messages in flight for its ref (§5.8); one-message requests cannot.
      const discardFollowing =
        message.type.startsWith('PUT_') && message.type !== 'PUT_DIR' && message.type !== 'PUT_LINK';
      const path =
        'path' in message
          ? message.path
          : this.#uploads?.activeRef === ref
            ? this.#uploads.activePath
            : undefined;
      if (this.#uploads?.activeRef === ref) await this.#uploads.closeActive();
      await this.#failOperation(ref, error, discardFollowing && message.type !== 'PUT_END', path);
    }
  }

  /**
   * Ends one operation with an ERROR for its ref, discarding the ref's messages still in flight if asked.
   * The log names what the wire may not (PROTOCOL.md §5.1): the requested path, the server's own file and
   * the errno, so an operator can tell which file a refusal was about and why.
   */
  async #failOperation(
    ref: number,
    error: FerryError,
    discardFollowing: boolean,
    path?: string,
  ): Promise<void> {
    if (discardFollowing) this.#failedRefs.add(ref);
    // The log's line comes from this event (server-log.ts), with what the wire may not carry.
    this.#events.operationRefused(ref, error, path);
    await this.#sendError(ref, error).catch(() => undefined);
  }

  async #sendError(ref: number, error: FerryError): Promise<void> {
    // PROTOCOL.md §5.1: the wire gets the code and the coded detail only, never a path or a stack.
    const wire = error.wireCode ?? 0xffff;
    const detail =
      error.wireCode === null || error.category === 'internal'
        ? ''
        : truncateUtf8(error.detail ?? '', MAX_DETAIL_BYTES);
    await this.#channel?.send({ type: 'ERROR', ref, code: wire, detail });
  }
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
