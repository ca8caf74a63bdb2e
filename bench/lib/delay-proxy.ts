// A long link on loopback: a TCP proxy that holds every piece of data for a one-way delay before passing it
// on, in order, in both directions (20 ms each way = a 40 ms round trip). The kernel here has no netem
// (ECOSYSTEM.md), so this is our own, on node:net.
//
// Each direction of each connection also has a window: at most `windowBytes` may be "on the link" at once,
// and a byte leaves the window only one round trip after it entered (when its acknowledgement would be
// back). One connection therefore carries at most windowBytes per round trip, as a real TCP connection
// whose window is capped does; without it the two loopback TCP legs would hide the delay from TCP itself,
// and only application-level round trips (SSH channel windows, request/response) would feel it. Parallel
// connections each get their own window, as on a real link. Backpressure is kept end to end: the proxy
// stops reading when the window is full or the destination socket's buffer is.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Options for {@link DelayProxy.start}. */
export interface DelayProxyOptions {
  target: { host: string; port: number };
  /** Delay applied to each direction (default 20 ms: a 40 ms round trip). */
  oneWayDelayMs?: number;
  /** Bytes one direction of one connection may have on the link per round trip; 0: unlimited. */
  windowBytes?: number;
}

interface Piece {
  data: Buffer | null; // null: the sender's FIN
  dueAt: number;
}

/** One direction of one proxied connection. */
class DelayedDirection {
  bytes = 0;
  readonly #from: Socket;
  readonly #to: Socket;
  readonly #delayMs: number;
  readonly #windowBytes: number;
  readonly #queue: Piece[] = [];
  readonly #credits: Array<{ bytes: number; dueAt: number }> = [];
  #onLink = 0;
  #deliverTimer: NodeJS.Timeout | undefined;
  #creditTimer: NodeJS.Timeout | undefined;
  #waitingForDrain = false;
  #closed = false;

  constructor(from: Socket, to: Socket, delayMs: number, windowBytes: number) {
    this.#from = from;
    this.#to = to;
    this.#delayMs = delayMs;
    this.#windowBytes = windowBytes;
    from.on('data', (data: Buffer) => {
      this.bytes += data.length;
      this.#onLink += data.length;
      this.#queue.push({ data, dueAt: performance.now() + delayMs });
      this.#updateFlow();
      this.#scheduleDelivery();
    });
    from.on('end', () => {
      this.#queue.push({ data: null, dueAt: performance.now() + delayMs });
      this.#scheduleDelivery();
    });
  }

  /** Stops every timer (the sockets are being destroyed). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#deliverTimer);
    clearTimeout(this.#creditTimer);
  }

  #updateFlow(): void {
    const windowFull = this.#windowBytes > 0 && this.#onLink >= this.#windowBytes;
    if (windowFull || this.#waitingForDrain) this.#from.pause();
    else this.#from.resume();
  }

  #scheduleDelivery(): void {
    if (this.#deliverTimer !== undefined || this.#closed || this.#queue.length === 0) return;
    const wait = Math.max(0, this.#queue[0]!.dueAt - performance.now());
    this.#deliverTimer = setTimeout(() => this.#deliver(), wait);
  }

  #deliver(): void {
    this.#deliverTimer = undefined;
    const now = performance.now();
    // Timers fire up to ~1 ms late or early; deliver everything due within the next half millisecond.
    while (this.#queue.length > 0 && this.#queue[0]!.dueAt <= now + 0.5 && !this.#closed) {
      const piece = this.#queue.shift()!;
      if (piece.data === null) {
        this.#to.end();
        continue;
      }
      if (!this.#to.destroyed && !this.#to.write(piece.data) && !this.#waitingForDrain) {
        this.#waitingForDrain = true;
        this.#to.once('drain', () => {
          this.#waitingForDrain = false;
          this.#updateFlow();
        });
      }
      // The acknowledgement of these bytes comes back one delay later; only then do they leave the window.
      this.#credits.push({ bytes: piece.data.length, dueAt: now + this.#delayMs });
      this.#scheduleCredit();
    }
    this.#updateFlow();
    this.#scheduleDelivery();
  }

  #scheduleCredit(): void {
    if (this.#creditTimer !== undefined || this.#closed || this.#credits.length === 0) return;
    const wait = Math.max(0, this.#credits[0]!.dueAt - performance.now());
    this.#creditTimer = setTimeout(() => {
      this.#creditTimer = undefined;
      const now = performance.now();
      while (this.#credits.length > 0 && this.#credits[0]!.dueAt <= now + 0.5)
        this.#onLink -= this.#credits.shift()!.bytes;
      this.#updateFlow();
      this.#scheduleCredit();
    }, wait);
  }
}

/** A delaying TCP proxy on 127.0.0.1 (port 0); see the top of this file. */
export class DelayProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #directions = new Set<DelayedDirection>();
  #clientToServerBytes = 0;
  #closing: Promise<void> | undefined;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(options: DelayProxyOptions): Promise<DelayProxy> {
    const delayMs = options.oneWayDelayMs ?? 20;
    const windowBytes = options.windowBytes ?? 0;
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    const proxy = new DelayProxy(server);
    server.on('connection', (client) => proxy.#accept(client, options.target, delayMs, windowBytes));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('proxy is not listening');
    return info.port;
  }

  get addressText(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Client-to-server bytes carried so far, over every connection (closed ones included). */
  get clientToServerBytes(): number {
    return this.#clientToServerBytes;
  }

  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const direction of this.#directions) direction.close();
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    })();
    return this.#closing;
  }

  #accept(
    client: Socket,
    target: { host: string; port: number },
    delayMs: number,
    windowBytes: number,
  ): void {
    const upstream = connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    client.setNoDelay(true);
    const up = new DelayedDirection(client, upstream, delayMs, windowBytes);
    const down = new DelayedDirection(upstream, client, delayMs, windowBytes);
    for (const d of [up, down]) this.#directions.add(d);
    let done = 0;
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      // A reset on one side resets the other: the proxy never hides a failure. Servers need 'error' handlers.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.once('close', () => {
        this.#sockets.delete(socket);
        if (++done === 2) {
          this.#clientToServerBytes += up.bytes;
          up.close();
          down.close();
          this.#directions.delete(up);
          this.#directions.delete(down);
        }
      });
    }
    if (this.#closing) {
      client.destroy();
      upstream.destroy();
    }
  }
}
