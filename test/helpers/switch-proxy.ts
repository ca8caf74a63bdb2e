// A loopback forwarder that sends its n-th connection to the n-th target (the last target for any beyond):
// a client retrying through it lands on another server, as behind a load balancer whose first server died.
// With one target and `cut()`/`heal()`, a partition between one peer and a service the others still reach.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class SwitchProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Which target each accepted connection went to, in order. */
  readonly routed: number[] = [];
  #cut = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targets: ReadonlyArray<{ host: string; port: number }>): Promise<SwitchProxy> {
    const server = createServer();
    const proxy = new SwitchProxy(server);
    server.on('connection', (client) => {
      client.on('error', () => undefined);
      if (proxy.#cut) {
        client.destroy();
        return;
      }
      const index = Math.min(proxy.routed.length, targets.length - 1);
      proxy.routed.push(index);
      const upstream = connect(targets[index]!);
      for (const socket of [client, upstream]) {
        proxy.#sockets.add(socket);
        // An RST on either side closes both; never an uncaught error.
        socket.on('error', () => undefined);
        socket.on('close', () => {
          proxy.#sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (!info || typeof info === 'string') throw new Error('not listening');
    return { host: info.address, port: info.port };
  }

  /**
   * A network partition: every connection through the proxy is dropped and new ones are closed at accept
   * (and not routed) until {@link heal}.
   */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Ends the partition: new connections are routed again. */
  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
