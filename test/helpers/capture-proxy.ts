import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Which way bytes travel through the proxy. */
export type Direction = 'clientToServer' | 'serverToClient';

/**
 * Rewrites bytes in flight. `offset` is the position of `chunk`'s first byte in its direction's stream of
 * this session. Returns the bytes to forward (the same buffer, modified or not, or a new one).
 */
export type Tamper = (chunk: Buffer, direction: Direction, offset: number) => Buffer;

/** Everything one proxied connection carried. */
export class CapturedSession {
  readonly clientToServer: Buffer[] = [];
  readonly serverToClient: Buffer[] = [];
  /** Resolves once both sockets of this session are closed. */
  readonly closed: Promise<void>;

  constructor(closed: Promise<void>) {
    this.closed = closed;
  }

  /** The bytes seen in `direction` so far, as the sender sent them (before any tampering). */
  bytes(direction: Direction): Buffer {
    return Buffer.concat(this[direction]);
  }
}

/** Options for {@link CaptureProxy.start}. */
export interface CaptureProxyOptions {
  tamper?: Tamper;
}

/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of `target` that forwards both directions, with
 * backpressure and half-close, and records every byte seen in each direction per connection. Our own
 * stand-in for toxiproxy (ECOSYSTEM.md: none is installable here). Every socket handles 'error', so a
 * reset never becomes an uncaught exception.
 */
export class CaptureProxy {
  readonly sessions: CapturedSession[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #sessionWaiters: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a proxy to `target`; resolves once it listens. */
  static async start(
    target: { host: string; port: number },
    options: CaptureProxyOptions = {},
  ): Promise<CaptureProxy> {
    const server = createServer();
    const proxy = new CaptureProxy(server);
    server.on('connection', (client) => proxy.#proxy(client, target, options.tamper));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  /** The address clients should dial instead of the target. */
  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('proxy is not listening');
    return { host: info.address, port: info.port };
  }

  /** Every byte seen in `direction`, all sessions in order of connection. */
  bytes(direction: Direction): Buffer {
    return Buffer.concat(this.sessions.map((s) => s.bytes(direction)));
  }

  /** Resolves once at least `count` connections have been accepted. */
  async waitForSessions(count: number): Promise<CapturedSession[]> {
    while (this.sessions.length < count)
      await new Promise<void>((resolve) => this.#sessionWaiters.push(resolve));
    return this.sessions.slice(0, count);
  }

  /** Stops listening and destroys every open connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    })();
    return this.#closing;
  }

  #proxy(client: Socket, target: { host: string; port: number }, tamper: Tamper | undefined): void {
    const upstream = connect({ host: target.host, port: target.port, noDelay: true });
    client.setNoDelay(true);
    const closed = Promise.all([once(client, 'close'), once(upstream, 'close')]).then(() => undefined);
    const session = new CapturedSession(closed);
    this.sessions.push(session);
    for (const wake of this.#sessionWaiters.splice(0)) wake();
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      // A reset on one side tears down the other: the proxy never hides a failure from either end.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream, session.clientToServer, 'clientToServer', tamper);
    forward(upstream, client, session.serverToClient, 'serverToClient', tamper);
  }
}

function forward(
  from: Socket,
  to: Socket,
  record: Buffer[],
  direction: Direction,
  tamper: Tamper | undefined,
): void {
  let offset = 0;
  from.on('data', (chunk: Buffer) => {
    record.push(Buffer.from(chunk));
    const out = tamper ? tamper(chunk, direction, offset) : chunk;
    offset += chunk.length;
    if (!to.destroyed && !to.write(out)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  // Half-close travels through: a peer that ends its side is seen ending by the other end.
  from.on('end', () => to.end());
  from.on('close', () => {
    if (!to.writableEnded) to.end();
  });
}

/** A tamper that flips bit `bit` (0-7) of the byte at `offset` of `direction`, in every session. */
export function flipBitAt(direction: Direction, offset: number, bit = 0): Tamper {
  return (chunk, dir, chunkOffset) => {
    if (dir !== direction || offset < chunkOffset || offset >= chunkOffset + chunk.length) return chunk;
    const copy = Buffer.from(chunk);
    copy[offset - chunkOffset]! ^= 1 << bit;
    return copy;
  };
}

/**
 * A tamper that holds back the first `count` records (u16 length + body, PROTOCOL.md §4) of `direction`
 * after its first `skipBytes` bytes (preamble and handshake), then forwards `rewrite(records)` in their
 * place, and everything after unchanged. Used to replay, reorder or drop whole records.
 */
export function rewriteRecords(
  direction: Direction,
  skipBytes: number,
  count: number,
  rewrite: (records: Buffer[]) => Buffer[],
): Tamper {
  let held = Buffer.alloc(0);
  let done = false;
  return (chunk, dir, offset) => {
    if (dir !== direction || done) return chunk;
    const passThrough = chunk.subarray(0, Math.max(0, Math.min(chunk.length, skipBytes - offset)));
    held = Buffer.concat([held, chunk.subarray(passThrough.length)]);
    const records: Buffer[] = [];
    let at = 0;
    while (records.length < count && held.length - at >= 2 && held.length - at >= 2 + held.readUInt16BE(at)) {
      const end = at + 2 + held.readUInt16BE(at);
      records.push(held.subarray(at, end));
      at = end;
    }
    if (records.length < count) return passThrough;
    done = true;
    return Buffer.concat([passThrough, ...rewrite(records), held.subarray(at)]);
  };
}
