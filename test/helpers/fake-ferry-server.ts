// The frame of a fake ferry server for client-side attack tests (test/integration/malicious-server.test.ts,
// test/security/hostile-server.ts): a real Noise handshake with a test key of its own on loopback, a WELCOME,
// then every message the client sends recorded and handed to the subclass's `answer`, until the client
// hangs up or refuses it.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { formatFerryId, generateKeyPair } from '../../src/crypto/index.js';
import { FramedSocket, serverHandshake, type SecureChannel } from '../../src/channel/index.js';
import type { Message } from '../../src/protocol/index.js';

export abstract class FakeFerryServer {
  readonly identity = generateKeyPair();
  /** Every message the clients sent after their handshakes, in order. */
  readonly received: Message[] = [];
  readonly #server: Server = createServer();
  readonly #sockets = new Set<Socket>();

  constructor() {
    this.#server.on('connection', (socket) => void this.#serve(socket));
  }

  /** Listens on an ephemeral loopback port; subclasses' `start` calls it once. */
  protected async listen(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
  }

  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('not listening');
    return { host: info.address, port: info.port };
  }

  get id(): string {
    return formatFerryId(this.identity.publicKey);
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Answers a LIST_REQUEST (the client asking whether its path is a directory, §5.12 SELF_ONLY) with "a file";
   * true if `message` was one. For subclasses that serve one file and attack what follows.
   */
  protected async answerAsFile(channel: SecureChannel, message: Message): Promise<boolean> {
    if (message.type !== 'LIST_REQUEST') return false;
    await channel.send({
      type: 'LIST_END',
      ref: message.ref,
      totalEntries: 0,
      isFile: true,
      mode: 0o644,
      mtimeMs: 1_700_000_000_000,
    });
    return true;
  }

  /** Answers one message of a session (after it was recorded in `received`). */
  protected abstract answer(channel: SecureChannel, message: Message, socket: Socket): Promise<void>;

  async #serve(socket: Socket): Promise<void> {
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    let channel: SecureChannel | undefined;
    try {
      ({ channel } = await serverHandshake(new FramedSocket(socket), { identity: this.identity }));
      await channel.send({ type: 'WELCOME', permissions: 3, maxFileBytes: 0 });
      for (;;) {
        const message = await channel.receive();
        this.received.push(message);
        await this.answer(channel, message, socket);
      }
    } catch {
      // The client hung up (or refused us): that is the point of most attack tests.
    } finally {
      channel?.close();
      socket.destroy();
    }
  }
}
