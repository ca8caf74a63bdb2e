import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** The client->server bytes every connection through the gate may still forward, shared. */
interface Budget {
  room(): number;
  spend(bytes: number): void;
}

/** One proxied connection: client->server bytes wait at the gate; server->client bytes flow freely. */
class GatedConnection {
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #budget: Budget;
  #held: Buffer[] = [];

  constructor(client: Socket, upstream: Socket, budget: Budget) {
    this.#client = client;
    this.#upstream = upstream;
    this.#budget = budget;
    client.on('data', (data: Buffer) => {
      this.#held.push(data);
      this.flush();
    });
    upstream.on('data', (data: Buffer) => {
      if (!client.write(data)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    client.on('end', () => {
      if (this.#held.length === 0) upstream.end();
    });
    upstream.on('end', () => client.end());
  }

  /** Forwards what the limit now allows; pauses the client while anything is held back. */
  flush(): void {
    while (this.#held.length > 0) {
      const room = this.#budget.room();
      if (room <= 0) break;
      const head = this.#held[0]!;
      const piece = head.length <= room ? head : head.subarray(0, room);
      if (piece === head) this.#held.shift();
      else this.#held[0] = head.subarray(room);
      this.#budget.spend(piece.length);
      this.#upstream.write(piece);
    }
    if (this.#held.length > 0) this.#client.pause();
    else {
      this.#client.resume();
      if (this.#client.readableEnded) this.#upstream.end();
    }
  }

  destroy(): void {
    this.#client.destroy();
    this.#upstream.destroy();
  }
}

/**
 * A TCP proxy that lets at most `limit` bytes in total (over all its connections, so a client's parallel
 * streams share it) travel from client to server, holding the rest (with backpressure) until the test
 * raises the limit. A transfer through it stops at a known point for as long as the test likes and goes
 * on when told: "live" without a single sleep. Server->client bytes always flow.
 */
export class GateProxy {
  readonly #server: Server;
  readonly #connections = new Set<GatedConnection>();
  #limit = Number.POSITIVE_INFINITY;
  #forwarded = 0;
  readonly #budget: Budget = {
    room: () => this.#limit - this.#forwarded,
    spend: (bytes) => (this.#forwarded += bytes),
  };

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<GateProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new GateProxy(server);
    server.on('connection', (client) => {
      const upstream = connect({ ...target, noDelay: true });
      for (const socket of [client, upstream])
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      const connection = new GatedConnection(client, upstream, proxy.#budget);
      proxy.#connections.add(connection);
      client.once('close', () => proxy.#connections.delete(connection));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('gate proxy is not listening');
    return { host: info.address, port: info.port };
  }

  /** Client->server bytes forwarded so far, over all connections. */
  get forwarded(): number {
    return this.#forwarded;
  }

  /** Lets `bytes` more client->server bytes through from now on, then holds again (Infinity opens the gate). */
  allow(bytes: number): void {
    this.#limit = this.#forwarded + bytes;
    for (const connection of this.#connections) connection.flush();
  }

  /** Holds every client->server byte from now on. */
  hold(): void {
    this.allow(0);
  }

  /** Cuts every open connection. */
  cutAll(): void {
    for (const connection of this.#connections) connection.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
