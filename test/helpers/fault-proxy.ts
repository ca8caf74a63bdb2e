import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Which way bytes travel through the proxy. */
export type Direction = 'clientToServer' | 'serverToClient';

const DIRECTIONS: readonly Direction[] = ['clientToServer', 'serverToClient'];

/**
 * What goes wrong on one proxied connection. Byte positions count the bytes of one direction of this
 * connection from 0, as the sender sent them. A plan with no field set forwards faithfully.
 */
export interface FaultPlan {
  /**
   * Forward exactly `afterBytes` bytes of `direction` (default client->server), then reset both sockets
   * (`resetAndDestroy`: an RST, as a dropped route or a killed NAT entry looks to each end).
   */
  cut?: {
    afterBytes: number;
    direction?: Direction;
    /**
     * The receiving end gets a FIN after the bytes instead of an RST (the sending end still an RST): it reads
     * every byte forwarded before it sees the end. An RST makes the receiver's kernel drop what it has not
     * read yet, so what it holds after a plain cut depends on how fast the sender wrote (a sender that writes
     * a MiB at once loses most of it); a test of what a resume holds wants the bytes that crossed, landed.
     */
    landed?: boolean;
  };
  /**
   * Forward exactly `afterBytes` bytes of `direction` (default client->server), then forward nothing more
   * while keeping both sockets open (a black-holed link). `freeze: 'both'` (the default) stops both
   * directions; `'one'` stops only `direction`, so the other keeps flowing. A stalled link carries no FIN
   * either: when one end closes, the other end is not told.
   */
  stall?: { afterBytes: number; direction?: Direction; freeze?: 'both' | 'one' };
  /** Flips bit `bit` (default 0) of the byte at `offset` of `direction`. */
  flipBit?: { direction: Direction; offset: number; bit?: number };
  /** Re-fragments every forwarded piece into writes of at most this many bytes (both directions). */
  fragmentBytes?: number;
}

/** Chooses the plan for connection `index` (0 for the first connection the proxy accepts). */
export type PlanFor = (index: number) => FaultPlan | undefined;

/**
 * The wire-level length prefixes ferry uses (PROTOCOL.md §2-§4): the 10-byte version offer client->server and
 * the 8-byte version answer server->client, then u16-length frames.
 */
const PREAMBLE_BYTES: Record<Direction, number> = { clientToServer: 10, serverToClient: 8 };

/** Counts PROTOCOL.md frames (u16 length + body: handshake messages, then records) in a byte stream. */
class FrameCounter {
  count = 0;
  #skip: number;
  #header: number[] = [];
  #body = 0;

  constructor(skip: number) {
    this.#skip = skip;
  }

  push(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, bytes.length - at);
        this.#skip -= n;
        at += n;
      } else if (this.#body > 0) {
        const n = Math.min(this.#body, bytes.length - at);
        this.#body -= n;
        at += n;
        if (this.#body === 0) this.count++;
      } else {
        this.#header.push(bytes[at++]!);
        if (this.#header.length === 2) {
          this.#body = (this.#header[0]! << 8) | this.#header[1]!;
          this.#header = [];
          if (this.#body === 0) this.count++;
        }
      }
    }
  }
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * One client connection through the proxy: its plan, what it forwarded, and promises to wait on.
 * Every promise here settles: the waits reject once the connection is closed without reaching them.
 */
export class ProxiedConnection {
  /** 0-based, in order of acceptance. */
  readonly index: number;
  readonly plan: FaultPlan;
  /** Bytes forwarded so far in each direction (counted at the proxy, after faults). */
  readonly bytes: Record<Direction, number> = { clientToServer: 0, serverToClient: 0 };
  /** Whole frames (u16 length + body, PROTOCOL.md §3.1, §4) forwarded in each direction. */
  readonly frames: Record<Direction, number> = { clientToServer: 0, serverToClient: 0 };
  /** Resolves when the planned cut happened; never resolves if the connection ends before it. */
  readonly cut: Promise<void>;
  /** Resolves when the planned stall began. */
  readonly stalled: Promise<void>;
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
  /**
   * Resolves once the socket of the side that dialled the proxy closed: it hung up, which a stalled link
   * does not tell the other side (so `closed` waits for the proxy's own end).
   */
  readonly clientClosed: Promise<void>;
  /** Whether the proxy's own connection to the server was established (the server saw a session). */
  upstreamConnected = false;
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #counters: Record<Direction, FrameCounter>;
  readonly #frozen: Record<Direction, boolean> = { clientToServer: false, serverToClient: false };
  #waiters: Waiter[] = [];
  #markCut!: () => void;
  #markStalled!: () => void;
  #isClosed = false;

  constructor(index: number, plan: FaultPlan, client: Socket, upstream: Socket) {
    this.index = index;
    this.plan = plan;
    this.#client = client;
    this.#upstream = upstream;
    this.#counters = {
      clientToServer: new FrameCounter(PREAMBLE_BYTES.clientToServer),
      serverToClient: new FrameCounter(PREAMBLE_BYTES.serverToClient),
    };
    this.cut = new Promise<void>((resolve) => (this.#markCut = resolve));
    this.stalled = new Promise<void>((resolve) => (this.#markStalled = resolve));
    this.clientClosed = closedOf(client);
    this.closed = Promise.all([this.clientClosed, closedOf(upstream)]).then(() => {
      this.#isClosed = true;
      this.#wake();
    });
    upstream.once('connect', () => (this.upstreamConnected = true));
    this.#forward(client, upstream, 'clientToServer');
    this.#forward(upstream, client, 'serverToClient');
  }

  /** Resolves once `count` bytes of `direction` were forwarded; rejects if the connection closes first. */
  waitForBytes(direction: Direction, count: number): Promise<void> {
    return this.#wait(
      () => this.bytes[direction] >= count,
      () => `${count} bytes ${direction} (got ${this.bytes[direction]})`,
    );
  }

  /** Resolves once `count` whole frames of `direction` were forwarded; rejects if the connection closes first. */
  waitForFrames(direction: Direction, count: number): Promise<void> {
    return this.#wait(
      () => this.frames[direction] >= count,
      () => `${count} frames ${direction} (got ${this.frames[direction]})`,
    );
  }

  /**
   * Cuts the connection now, with an RST both ways (as a planned cut does), except on a socket whose write
   * side was already ended (a FIN passed on): that one is closed plainly. Idempotent.
   */
  reset(): void {
    resetOrDestroy(this.#client);
    resetOrDestroy(this.#upstream);
    this.#markCut();
  }

  /**
   * Resets only the client's socket (an RST), leaving the server's open and, on a stalled link, frozen: what
   * the client sees when its end of the link dies, while the server, told nothing, still holds its session.
   * The event-driven stand-in for a client's stall watchdog, whose timer depends on the machine's speed.
   */
  resetClient(): void {
    resetOrDestroy(this.#client);
  }

  /** Destroys both sockets (without an RST). Idempotent. */
  destroy(): void {
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #wait(ready: () => boolean, what: () => string): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.#isClosed) return Promise.reject(new Error(`connection ${this.index} closed before ${what()}`));
    return new Promise<void>((resolve, reject) =>
      this.#waiters.push({
        ready,
        resolve,
        reject: () => reject(new Error(`connection ${this.index} closed before ${what()}`)),
      }),
    );
  }

  #wake(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.ready()) waiter.resolve();
      else if (this.#isClosed) waiter.reject(new Error('closed'));
      else this.#waiters.push(waiter);
    }
  }

  /** The first byte count at which `direction` must stop being forwarded, and why. */
  #limit(direction: Direction): { at: number; kind: 'cut' | 'stall' } | undefined {
    const { cut, stall } = this.plan;
    const limits: { at: number; kind: 'cut' | 'stall' }[] = [];
    if (cut && (cut.direction ?? 'clientToServer') === direction)
      limits.push({ at: cut.afterBytes, kind: 'cut' });
    if (stall && (stall.direction ?? 'clientToServer') === direction)
      limits.push({ at: stall.afterBytes, kind: 'stall' });
    return limits.sort((a, b) => a.at - b.at)[0];
  }

  #forward(from: Socket, to: Socket, direction: Direction): void {
    const limit = this.#limit(direction);
    const flip = this.plan.flipBit?.direction === direction ? this.plan.flipBit : undefined;
    const fragment = this.plan.fragmentBytes;
    from.on('data', (data: Buffer) => {
      if (this.#frozen[direction]) {
        // Nothing more crosses a stalled link; stop reading so TCP backpressure reaches the sender.
        from.pause();
        return;
      }
      const position = this.bytes[direction];
      let out = data;
      let hit: 'cut' | 'stall' | undefined;
      if (limit && position + data.length >= limit.at) {
        out = data.subarray(0, Math.max(0, limit.at - position));
        hit = limit.kind;
      }
      if (flip && flip.offset >= position && flip.offset < position + out.length) {
        out = Buffer.from(out);
        out[flip.offset - position]! ^= 1 << (flip.bit ?? 0);
      }
      this.bytes[direction] += out.length;
      // Frames are counted on the bytes as sent (a flipped length bit must not derail the count).
      this.#counters[direction].push(data.subarray(0, out.length));
      this.frames[direction] = this.#counters[direction].count;
      let accepted = true;
      if (out.length > 0 && to.writable) {
        if (fragment && fragment > 0) {
          for (let at = 0; at < out.length; at += fragment)
            accepted = to.write(out.subarray(at, at + fragment));
        } else {
          accepted = to.write(out);
        }
      }
      this.#wake();
      if (hit === 'cut') {
        if (this.plan.cut?.landed === true) {
          // FIN after the bytes to the receiver, RST to the sender: the bytes that crossed all land.
          this.#frozen[direction] = true;
          to.end();
          resetOrDestroy(from);
          this.#markCut();
          return;
        }
        this.reset();
        return;
      }
      if (hit === 'stall') {
        const freezeBoth = (this.plan.stall?.freeze ?? 'both') === 'both';
        for (const d of DIRECTIONS) if (d === direction || freezeBoth) this.#frozen[d] = true;
        from.pause();
        if (freezeBoth) to.pause();
        this.#markStalled();
        return;
      }
      if (!accepted) {
        from.pause();
        to.once('drain', () => {
          if (!this.#frozen[direction]) from.resume();
        });
      }
    });
    // Half-close travels through, unless the link is stalled (a black hole carries no FIN either).
    from.on('end', () => {
      if (!this.#frozen[direction]) to.end();
    });
    from.on('close', () => {
      if (this.#frozen.clientToServer || this.#frozen.serverToClient) return;
      if (!to.destroyed && !to.writableEnded) to.end();
    });
  }
}

/**
 * Destroys `socket` with an RST, or plainly once its write side was ended. libuv refuses an RST while a
 * shutdown is pending (uv_tcp_close_reset: EINVAL) and Node 20 then never closes the handle: no 'close', and
 * the test process can never exit (the file hung after its last test passed).
 */
function resetOrDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

/** Resolves on 'close' (events.once would reject on an 'error' that comes first). */
function closedOf(socket: Socket): Promise<void> {
  return socket.closed
    ? Promise.resolve()
    : new Promise<void>((resolve) => socket.once('close', () => resolve()));
}

/** Options for {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** The real server. Can be changed later with {@link FaultProxy.setTarget} (e.g. after a restart). */
  target: { host: string; port: number };
  /** A plan for every connection, or a function of the connection index. Default: forward faithfully. */
  plan?: FaultPlan | PlanFor;
}

/**
 * A TCP proxy on 127.0.0.1 (port 0) that injects network faults per connection: cut with an RST after N
 * bytes, stall (black hole) after N bytes, flip one bit, re-fragment into tiny writes. It counts the bytes
 * it forwards per direction and connection, so tests measure what really crossed the wire rather than
 * what the tool claims. Our own stand-in for netem/toxiproxy (ECOSYSTEM.md, "Traps seen here"). Every
 * socket handles 'error', so a reset never becomes an uncaught exception.
 */
export class FaultProxy {
  /** Every connection accepted so far, in order. */
  readonly connections: ProxiedConnection[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: { host: string; port: number };
  #plan: PlanFor;
  #waiters: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  private constructor(server: Server, options: FaultProxyOptions) {
    this.#server = server;
    this.#target = options.target;
    this.#plan = toPlanFor(options.plan);
  }

  /** Starts a proxy; resolves once it listens. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new FaultProxy(server, options);
    server.on('connection', (client) => proxy.#accept(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  /** The address clients should dial instead of the server. */
  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('proxy is not listening');
    return { host: info.address, port: info.port };
  }

  /** `host:port` of {@link address}. */
  get addressText(): string {
    const { host, port } = this.address;
    return `${host}:${port}`;
  }

  /** Where new connections go from now on (existing ones keep their server). */
  setTarget(target: { host: string; port: number }): void {
    this.#target = target;
  }

  /** The plan for connections accepted from now on. */
  setPlan(plan: FaultPlan | PlanFor | undefined): void {
    this.#plan = toPlanFor(plan);
  }

  /** Total bytes forwarded in `direction`, over every connection. */
  totalBytes(direction: Direction): number {
    return this.connections.reduce((sum, c) => sum + c.bytes[direction], 0);
  }

  /** Bytes forwarded in `direction` by the connections with index `from` and later. */
  bytesSince(from: number, direction: Direction): number {
    return this.connections.slice(from).reduce((sum, c) => sum + c.bytes[direction], 0);
  }

  /** Resolves with connection `index` once it has been accepted. */
  async connection(index: number): Promise<ProxiedConnection> {
    while (this.connections.length <= index) {
      if (this.#closing) throw new Error(`proxy closed before connection ${index} opened`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.connections[index]!;
  }

  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      for (const wake of this.#waiters.splice(0)) wake();
      await closed;
    })();
    return this.#closing;
  }

  #accept(client: Socket): void {
    const index = this.connections.length;
    const plan = this.#plan(index) ?? {};
    const upstream = connect({ host: this.#target.host, port: this.#target.port, noDelay: true });
    client.setNoDelay(true);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      // A failure on one side (RST, refused upstream) tears down the other: the proxy never hides it.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    if (this.#closing) {
      client.destroy();
      upstream.destroy();
    }
    this.connections.push(new ProxiedConnection(index, plan, client, upstream));
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function toPlanFor(plan: FaultPlan | PlanFor | undefined): PlanFor {
  if (plan === undefined) return () => undefined;
  return typeof plan === 'function' ? plan : () => plan;
}
