import { FerryError, toFerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/index.js';
import type { SecureChannel } from '../channel/index.js';
import {
  PUT_DATA_HEADER_BYTES,
  encodeMessage,
  writePutDataHeader,
  type KeyCommitMessage,
  type KeyRotateMessage,
  type Message,
  type WelcomeMessage,
} from '../protocol/index.js';
import type { PooledChunkSink, SealPool } from '../transfer/index.js';
import type { ClientSessionOptions } from './client-session-options.js';
import { openClientChannel } from './open-client-channel.js';
import { ProgressWatchdog } from './progress-watchdog.js';
import type { ServerAddress } from './server-address.js';
import { sessionErrorFrom } from './session-error.js';
import { SessionRefs, type RefMessage } from './session-refs.js';

/**
 * Default stall watchdog: a session that moves no bytes in either direction for this long is dropped
 * (STALLED, retryable), and the transfer resumes on a new session.
 */
export const STALL_TIMEOUT_MS = 30_000;
/** How often a session checks that a message it began receiving has not been trickling for too long. */
export const PROGRESS_CHECK_MS = 10_000;

function tickEvery(check: () => void): () => void {
  const timer = setInterval(check, PROGRESS_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

type Pending = { resolve: (message: Message) => void; reject: (err: FerryError) => void };

/**
 * One client session: connects, runs the handshake, and routes each incoming message to the mailbox of
 * the ref it belongs to. Operations open a ref with `openRef()`, `send` their messages, `take(ref)` the
 * answers in order, and `closeRef(ref)` when done (later messages for it are dropped). PROGRESS goes to a
 * listener rather than the mailbox, so it never blocks data.
 */
export class ClientSession {
  readonly channel: SecureChannel;
  /** The address this session was opened to, for naming remote paths in errors. */
  readonly address: ServerAddress;
  readonly serverPublicKey: Buffer;
  readonly welcome: Promise<WelcomeMessage>;
  readonly #refs = new SessionRefs();
  /** Work of this session still in flight when the work around it failed (`leaveRunning`). */
  readonly #leftRunning: Array<Promise<unknown>> = [];
  #welcomeSettle: Pending | undefined;
  /** A KEY_COMMIT or KEY_ROTATE was read (§13: at most one per session). */
  #keySeen = false;
  #failure: FerryError | undefined;
  /** The receive loop: it ends once the channel is closed and the records it still held were dispatched. */
  readonly #receiving: Promise<void>;
  /** Bounds a server that keeps the session alive without progress (PROTOCOL.md §5.18). */
  readonly #watchdog: ProgressWatchdog;
  readonly #bytesRead: () => number;

  /** Our own ferry ID, which the operator of a server that refuses us needs to allow us. */
  readonly #clientId: string;

  readonly #onServerKey: ((message: KeyCommitMessage | KeyRotateMessage) => Promise<void>) | undefined;

  private constructor(
    channel: SecureChannel,
    address: ServerAddress,
    clientId: string,
    watchdog: ProgressWatchdog,
    bytesRead: () => number,
    onServerKey?: (message: KeyCommitMessage | KeyRotateMessage) => Promise<void>,
  ) {
    this.#watchdog = watchdog;
    this.#bytesRead = bytesRead;
    this.#onServerKey = onServerKey;
    this.channel = channel;
    this.address = address;
    this.#clientId = clientId;
    this.serverPublicKey = channel.remotePublicKey;
    this.welcome = new Promise<Message>((resolve, reject) => {
      this.#welcomeSettle = { resolve, reject };
    }) as Promise<WelcomeMessage>;
    // Callers that never await the welcome must not see an unhandled rejection.
    this.welcome.catch(() => undefined);
    this.#receiving = this.#receiveLoop();
  }

  /** Connects to `address` and completes the handshake. */
  static async connect(address: ServerAddress, options: ClientSessionOptions): Promise<ClientSession> {
    const { socket, channel } = await openClientChannel(address, options);
    if (options.openPool) channel.openInParallel(options.openPool);
    // Node refreshes a socket's timeout on every read and every write it accepts; a write parked for
    // 'drain' does not refresh it, so this fires when bytes stop moving either way.
    const stall = options.stallTimeoutMs ?? STALL_TIMEOUT_MS;
    socket.setTimeout(stall, () =>
      channel.close(new FerryError('STALLED', `no bytes moved for ${stall} ms`)),
    );
    const { onServerKey, identity } = options;
    const watchdog = new ProgressWatchdog(options.progressTimeoutMs, options.progressClock);
    watchdog.taking(false, socket.bytesRead);
    const session = new ClientSession(
      channel,
      address,
      formatFerryId(identity.publicKey),
      watchdog,
      () => socket.bytesRead,
      onServerKey &&
        ((message) =>
          onServerKey(message, {
            handshakeHash: channel.handshakeHash,
            serverKey: channel.remotePublicKey,
            identity,
          })),
    );
    // A message trickled in a byte at a time moves bytes (no stall) and completes nothing (no message).
    const stopTicking = (options.progressTicker ?? tickEvery)(() => {
      try {
        watchdog.arrivalCheck(socket.bytesRead);
      } catch (err) {
        session.close(toFerryError(err));
      }
    });
    socket.once('close', stopTicking);
    const onAbort = (): void => session.close(new FerryError('ABORTED'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => options.signal?.removeEventListener('abort', onAbort));
    return session;
  }

  /** True once the session failed or was closed: no operation can continue on it. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Opens a fresh ref (PROTOCOL.md §5.3: non-zero, never reused in a session) with its mailbox. */
  openRef(): number {
    if (this.#failure) throw this.#failure;
    return this.#refs.open();
  }

  /** Closes a ref: messages still arriving for it are dropped. */
  closeRef(ref: number): void {
    this.#refs.close(ref);
    this.#watchdog.closed(ref);
  }

  /**
   * Gives up on `ref` on this side: it is closed, and the server is told with CANCEL so it stops sending for
   * it (PROTOCOL.md §5.9; a server that has already ended the ref ignores it). Never throws: on a failed
   * session there is nobody left to tell.
   */
  cancelRef(ref: number): void {
    this.closeRef(ref);
    if (this.#failure) return;
    this.channel.send({ type: 'CANCEL', ref }).catch(() => undefined);
  }

  /** Sends one message. */
  async send(message: Message): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#watchdog.sent(message);
    await this.channel.send(message);
  }

  /**
   * Sends a message whose plaintext the caller built: PUT_DATA, the hot path (PROTOCOL.md §5.5), written
   * straight from the file's read buffer. The same failure check as `send`: once the session failed, its data
   * fails with that error (the server's session ERROR, say), not with whatever the closed channel says.
   */
  sendData(plaintext: Buffer): Promise<void> {
    // Not async: one promise per record, as the channel's own, on the path issue 14 profiles.
    if (this.#failure) return Promise.reject(this.#failure);
    return this.channel.sendPlaintext(plaintext);
  }

  /** A block of PUT_DATA plaintexts at once, in one gathered write (`SecureChannel.sendPlaintexts`). */
  sendDataBlock(plaintexts: readonly Buffer[]): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.channel.sendPlaintexts(plaintexts);
  }

  /**
   * The sending half of `ref`'s data for a `SealPool` (`streamChunksPooled`): nonces reserved here, records
   * sealed by the workers and written in nonce order, with the same failure check as `sendData`.
   */
  pooledSink(
    ref: number,
    pool: SealPool,
    onChunk?: (index: number, chunkHash: Buffer) => Promise<void> | undefined,
  ): PooledChunkSink {
    return {
      pool,
      headerBytes: PUT_DATA_HEADER_BYTES,
      writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, ref, fileOffset),
      reserve: (count) => {
        if (this.#failure) throw this.#failure;
        return this.channel.reserveRecords(count);
      },
      writeFramed: (framed, records) =>
        this.#failure ? Promise.reject(this.#failure) : this.channel.writeFramed(framed, records),
      chunkMessage: (index, chunkHash) => encodeMessage({ type: 'PUT_CHUNK', ref, index, chunkHash }),
      chunkSent: (index, chunkHash) => onChunk?.(index, chunkHash),
      abandon: (err) => this.close(toFerryError(err)),
    };
  }

  /** The next message for `ref`; an ERROR for the ref rejects with the server's coded error. */
  take(ref: number): Promise<RefMessage> {
    return this.#refs.take(ref);
  }

  /** The next message for `ref`, which must be of `type`. */
  async expect<T extends RefMessage['type']>(
    ref: number,
    type: T,
  ): Promise<Extract<RefMessage, { type: T }>> {
    const message = await this.take(ref);
    if (message.type !== type)
      throw new FerryError('MESSAGE_UNEXPECTED', `expected ${type}, got ${message.type}`);
    return message as Extract<RefMessage, { type: T }>;
  }

  /** Registers a listener for PROGRESS of `ref`. */
  onProgress(ref: number, listener: (verifiedBytes: number) => void): void {
    this.#refs.onProgress(ref, listener);
  }

  /** Ends the session cleanly once everything written is flushed. */
  async end(): Promise<void> {
    await this.channel.end();
    this.close();
  }

  /**
   * Closes the session after its work failed with `err` and says what ended it. A close that may be retried
   * first lets the receive loop read the records that arrived before it (FramedSocket hands out what it holds
   * before its end): a session ERROR the server sent before it closed (CLIENT_NOT_ALLOWED) wins over the bare
   * CONNECTION_CLOSED the work may have hit first, so a refused client sees the refusal and does not retry.
   */
  async closeAfter(err: FerryError): Promise<FerryError> {
    if (this.#failure === undefined && err.retryable) {
      // Nobody takes from the mailboxes any more: failed, they never hold the receive loop up.
      this.#refs.fail(err);
      this.channel.close(err);
      await this.#receiving;
    }
    const failure = this.#failure;
    this.close(err);
    return err.retryable && failure?.remote === true ? failure : err;
  }

  /**
   * Hands over work of this session still in flight when the work around it failed (a pipelined run's
   * downloads or uploads, each ending soon once the session is closed): `withRetries` waits for it after the
   * close and before a retry or the throw, so nothing of a failed attempt still writes once its caller hears
   * of the failure (a download's partial, a batch's temporaries: found by the client-sync fuzz target, an `rm
   * -r` of DST failing with ENOTEMPTY).
   */
  leaveRunning(pending: Iterable<Promise<unknown>>): void {
    for (const work of pending) this.#leftRunning.push(work.catch(() => undefined));
  }

  /** Resolves once all work handed to `leaveRunning` has settled. */
  async leftRunningSettled(): Promise<void> {
    await Promise.allSettled(this.#leftRunning.splice(0));
  }

  /** Closes the session; every open ref fails with `err`. Idempotent. */
  close(err?: FerryError): void {
    this.#fail(err ?? new FerryError('CONNECTION_CLOSED', 'closed locally'));
    this.channel.close(err);
  }

  async #receiveLoop(): Promise<void> {
    try {
      for (;;) {
        const message = await this.channel.receive();
        this.#watchdog.taking(true, 0);
        await this.#dispatch(message);
        this.#watchdog.taking(false, this.#bytesRead());
      }
    } catch (err) {
      this.#fail(toFerryError(err));
      // Closed with the session's failure, so a send parked on backpressure fails with it too (say the
      // server's session ERROR), not with a bare CONNECTION_CLOSED that would read as a retryable cut.
      this.channel.close(this.#failure);
    }
  }

  async #dispatch(message: Message): Promise<void> {
    this.#watchdog.received(message, 'ref' in message && this.#refs.has(message.ref));
    if (message.type === 'WELCOME') {
      const settle = this.#welcomeSettle;
      if (!settle) throw new FerryError('MESSAGE_UNEXPECTED', 'second WELCOME');
      this.#welcomeSettle = undefined;
      settle.resolve(message);
      return;
    }
    if (message.type === 'KEY_COMMIT' || message.type === 'KEY_ROTATE') {
      // PROTOCOL.md §13: after WELCOME only, at most one.
      if (this.#welcomeSettle || this.#keySeen)
        throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} before WELCOME or a second time`);
      this.#keySeen = true;
      await this.#onServerKey?.(message);
      return;
    }
    if (message.type === 'ERROR' && message.ref === 0)
      throw sessionErrorFrom(message, {
        clientId: this.#clientId,
        serverId: formatFerryId(this.serverPublicKey),
        address: this.address,
      });
    // PROTOCOL.md §5.18: the server is busy for us; its bytes already fed the stall watchdog.
    if (message.type === 'KEEPALIVE') return;
    if (!('ref' in message))
      throw new FerryError('MESSAGE_UNEXPECTED', `${(message as Message).type} from the server`);
    await this.#refs.route(message);
  }

  #fail(err: FerryError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#welcomeSettle?.reject(err);
    this.#welcomeSettle = undefined;
    this.#refs.fail(err);
  }
}
