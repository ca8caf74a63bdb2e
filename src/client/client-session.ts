import { connect as netConnect, type Socket } from 'node:net';
import { FerryError, codeFromWire, toFerryError } from '../errors/index.js';
import type { KeyPair } from '../crypto/index.js';
import { FramedSocket, SecureChannel, clientHandshake, MODE_NORMAL } from '../channel/index.js';
import type { Message, WelcomeMessage } from '../protocol/index.js';

/** Default deadline for the TCP connect. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Default: a session that receives nothing for this long while waiting on the server is dropped. */
export const CLIENT_IDLE_TIMEOUT_MS = 60_000;

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export interface ClientSessionOptions {
  identity: KeyPair;
  /** Checks the server's key before the client reveals its own (PROTOCOL.md §3.2.1); throws to refuse. */
  verifyServer: (publicKey: Buffer) => Promise<void> | void;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  signal?: AbortSignal | undefined;
}

type Pending = { resolve: (message: Message) => void; reject: (err: FerryError) => void };

/**
 * One client session: connects, runs the handshake, and routes incoming messages to the transfer that
 * waits for them. Transfers call `send` and `expect(ref, type)`; PROGRESS goes to the ref's listener.
 */
export class ClientSession {
  readonly channel: SecureChannel;
  readonly serverPublicKey: Buffer;
  readonly welcome: Promise<WelcomeMessage>;
  readonly #waiting = new Map<number, Pending>();
  readonly #progress = new Map<number, (verifiedBytes: number) => void>();
  #welcomeSettle: Pending | undefined;
  #failure: FerryError | undefined;
  #nextRef = 1;

  private constructor(channel: SecureChannel) {
    this.channel = channel;
    this.serverPublicKey = channel.remotePublicKey;
    this.welcome = new Promise<Message>((resolve, reject) => {
      this.#welcomeSettle = { resolve, reject };
    }) as Promise<WelcomeMessage>;
    // Callers that never await the welcome must not see an unhandled rejection.
    this.welcome.catch(() => undefined);
    void this.#receiveLoop();
  }

  /** Connects to `address` and completes the handshake. */
  static async connect(address: ServerAddress, options: ClientSessionOptions): Promise<ClientSession> {
    const socket = await connectSocket(address, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, options.signal);
    const framed = new FramedSocket(socket);
    const channel = await clientHandshake(framed, {
      identity: options.identity,
      verifyServer: options.verifyServer,
      mode: MODE_NORMAL,
      timeoutMs: options.handshakeTimeoutMs,
      signal: options.signal,
    });
    const idle = options.idleTimeoutMs ?? CLIENT_IDLE_TIMEOUT_MS;
    socket.setTimeout(idle, () => channel.close(new FerryError('TIMEOUT', `no data from the server for ${idle} ms`)));
    const session = new ClientSession(channel);
    const onAbort = (): void => session.close(new FerryError('ABORTED'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => options.signal?.removeEventListener('abort', onAbort));
    return session;
  }

  /** A fresh transfer ref for this session (PROTOCOL.md §5.3: non-zero, never reused). */
  nextRef(): number {
    return this.#nextRef++;
  }

  /** Sends one message. */
  async send(message: Message): Promise<void> {
    if (this.#failure) throw this.#failure;
    await this.channel.send(message);
  }

  /**
   * Waits for the next message for `ref`, which must be of `type`; an ERROR for the ref rejects with the
   * server's coded error.
   */
  expect<T extends Message['type']>(ref: number, type: T): Promise<Extract<Message, { type: T }>> {
    const result = (async () => {
      if (this.#failure) throw this.#failure;
      if (this.#waiting.has(ref)) throw new FerryError('INTERNAL', `already waiting on ref ${ref}`);
      const message = await new Promise<Message>((resolve, reject) => this.#waiting.set(ref, { resolve, reject }));
      if (message.type !== type) throw new FerryError('MESSAGE_UNEXPECTED', `expected ${type}, got ${message.type}`);
      return message as Extract<Message, { type: T }>;
    })();
    // Callers start waiting before they send; if the send fails they never await this promise.
    result.catch(() => undefined);
    return result;
  }

  /** Registers a listener for PROGRESS of `ref`. */
  onProgress(ref: number, listener: (verifiedBytes: number) => void): void {
    this.#progress.set(ref, listener);
  }

  /** Ends the session cleanly once everything written is flushed. */
  async end(): Promise<void> {
    await this.channel.end();
    this.close();
  }

  /** Closes the session; every waiter fails with `err`. Idempotent. */
  close(err?: FerryError): void {
    this.#fail(err ?? new FerryError('CONNECTION_CLOSED', 'closed locally'));
    this.channel.close(err);
  }

  async #receiveLoop(): Promise<void> {
    try {
      for (;;) {
        const message = await this.channel.receive();
        this.#dispatch(message);
      }
    } catch (err) {
      this.#fail(toFerryError(err));
      this.channel.close();
    }
  }

  #dispatch(message: Message): void {
    switch (message.type) {
      case 'WELCOME': {
        const settle = this.#welcomeSettle;
        if (!settle) throw new FerryError('MESSAGE_UNEXPECTED', 'second WELCOME');
        this.#welcomeSettle = undefined;
        settle.resolve(message);
        return;
      }
      case 'ERROR': {
        const err = new FerryError(codeFromWire(message.code), message.detail || undefined, { remote: true });
        if (message.ref === 0) throw err;
        this.#settle(message.ref, undefined, err);
        return;
      }
      case 'PROGRESS':
        this.#progress.get(message.ref)?.(message.verifiedBytes);
        return;
      case 'PUT_ACCEPT':
      case 'PUT_DONE':
        this.#settle(message.ref, message);
        return;
      default:
        throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} from the server`);
    }
  }

  #settle(ref: number, message: Message | undefined, err?: FerryError): void {
    const pending = this.#waiting.get(ref);
    if (!pending) {
      if (err) return; // an error for a transfer nobody waits on (it already failed locally)
      throw new FerryError('MESSAGE_UNEXPECTED', `unsolicited message for ref ${ref}`);
    }
    this.#waiting.delete(ref);
    if (err) pending.reject(err);
    else pending.resolve(message!);
  }

  #fail(err: FerryError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#welcomeSettle?.reject(err);
    this.#welcomeSettle = undefined;
    for (const pending of this.#waiting.values()) pending.reject(err);
    this.#waiting.clear();
  }
}

function connectSocket(address: ServerAddress, timeoutMs: number, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal?.aborted) return reject(new FerryError('ABORTED'));
    const socket = netConnect({ host: address.host, port: address.port, noDelay: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      const coded = toFerryError(err);
      reject(coded.category === 'network' || coded.code === 'ABORTED' ? coded : new FerryError('CONNECT_FAILED', undefined, { cause: err }));
    };
    const onAbort = (): void => onError(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new FerryError('TIMEOUT', `connect not done within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
