import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** Connection limits of a server (docs/SECURITY.md, "Server limits"). */
export interface ConnectionLimits {
  /** All connections at once; more are closed at accept without reading a byte. */
  readonly maxConnections: number;
  /**
   * Connections that have not finished the handshake and admission. When full, the oldest is dropped to
   * make room: idle sockets (a slowloris) can delay but never lock out an authorised client.
   */
  readonly maxUnauthenticated: number;
  /** Sessions one client key may hold at once (parallel streams count one each). */
  readonly maxSessionsPerClient: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  maxUnauthenticated: 128,
  maxSessionsPerClient: 32,
};

/**
 * Enforces the connection limits. A socket is *unauthenticated* from accept until its client key is
 * admitted, then it counts against its client. OpenSSH's MaxStartups drops new connections at random when
 * full; ferry drops the oldest unauthenticated one instead, because a legitimate handshake takes
 * milliseconds and an idle attacker's socket is, by then, the oldest.
 */
export class ConnectionGate {
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  /** Insertion order is age order: the first entry is the oldest unauthenticated socket. */
  readonly #unauthenticated = new Set<Socket>();
  readonly #byClient = new Map<string, number>();
  readonly #clientOf = new Map<Socket, string>();
  #total = 0;
  /** Counters for logs and the load test. */
  readonly stats = { refusedAtAccept: 0, droppedUnauthenticated: 0, refusedPerClient: 0 };

  constructor(limits: ConnectionLimits, logger: Logger) {
    this.#limits = limits;
    this.#logger = logger;
  }

  /** At accept: false means close the socket at once (over the total limit). */
  admit(socket: Socket): boolean {
    if (this.#total >= this.#limits.maxConnections) {
      this.stats.refusedAtAccept++;
      this.#warn('refused-at-accept', 'SERVER_BUSY', this.stats.refusedAtAccept);
      return false;
    }
    this.#total++;
    socket.once('close', () => this.#release(socket));
    this.#unauthenticated.add(socket);
    if (this.#unauthenticated.size > this.#limits.maxUnauthenticated) {
      const oldest = this.#unauthenticated.values().next().value as Socket;
      this.#unauthenticated.delete(oldest);
      this.stats.droppedUnauthenticated++;
      this.#warn('dropped-unauthenticated', 'SERVER_BUSY', this.stats.droppedUnauthenticated);
      oldest.destroy();
    }
    return true;
  }

  /**
   * After admission of `clientKey`: false means the client holds too many sessions already. A socket refused
   * so stays unauthenticated for its refusal's linger (linger-for-client-close.ts): it counts against no
   * client, and an allowed key at its limit could otherwise hold sockets outside both bounds.
   */
  authenticated(socket: Socket, clientKey: Buffer): boolean {
    const id = clientKey.toString('hex');
    const count = this.#byClient.get(id) ?? 0;
    if (count >= this.#limits.maxSessionsPerClient) {
      this.stats.refusedPerClient++;
      return false;
    }
    this.#unauthenticated.delete(socket);
    this.#byClient.set(id, count + 1);
    this.#clientOf.set(socket, id);
    return true;
  }

  #release(socket: Socket): void {
    this.#total--;
    this.#unauthenticated.delete(socket);
    const id = this.#clientOf.get(socket);
    if (id === undefined) return;
    this.#clientOf.delete(socket);
    const count = (this.#byClient.get(id) ?? 1) - 1;
    if (count === 0) this.#byClient.delete(id);
    else this.#byClient.set(id, count);
  }

  /** Logs the first refusal of a kind and then every 100th, so a flood cannot flood the log too. */
  #warn(event: string, code: string, count: number): void {
    if (count === 1 || count % 100 === 0)
      this.#logger.warn({ event, code, count }, 'connection refused by a limit');
  }
}
