import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { FramedSocket, clientHandshake, type SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { FerryServer } from '../../src/server/index.js';

/** A client with a fresh key (on no allow-list) after its handshake with `server`, and what it observed. */
export interface RefusedClient {
  readonly socket: Socket;
  readonly channel: SecureChannel;
  /** Errors the client's socket saw (a reset shows here). */
  readonly errors: Error[];
  /** What happened in which order: the test pushes its own steps, the server's session end is pushed here. */
  readonly order: string[];
  /** The server's `session-refused` event. */
  readonly refused: Promise<{ code: string }>;
}

/** Connects a raw client to `server` with a key nobody allowed and completes the handshake. */
export async function connectRefusedClient(server: FerryServer): Promise<RefusedClient> {
  const order: string[] = [];
  const refused = once(server.events, 'session-refused').then(([event]) => {
    order.push('server ended the session');
    return event as { code: string };
  });
  const socket = connect({ ...server.address, noDelay: true, allowHalfOpen: true });
  const errors: Error[] = [];
  socket.on('error', (err) => errors.push(err));
  await once(socket, 'connect');
  const channel = await clientHandshake(new FramedSocket(socket), {
    identity: generateKeyPair(),
    verifyServer: () => undefined,
  });
  return { socket, channel, errors, order, refused };
}
