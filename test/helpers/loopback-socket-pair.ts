// A real loopback TCP connection for channel tests, and a session cipher keyed the same both ways (so one
// side's records open with another cipher built from the same key).
import { once } from 'node:events';
import { connect, createServer, type OnReadOpts, type Socket } from 'node:net';
import { FramedSocket, SecureChannel } from '../../src/channel/index.js';
import { CipherState, SessionCipher } from '../../src/crypto/index.js';

/**
 * A real loopback TCP pair: the accepted socket and the dialled one (reading through `onread` if given);
 * `close` ends both and the listener.
 */
export async function socketPair(
  onread?: OnReadOpts,
): Promise<{ accepted: Socket; dialled: Socket; close: () => void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepting = once(server, 'connection') as Promise<[Socket]>;
  const dialled = connect({ host: '127.0.0.1', port, ...(onread ? { onread } : {}) });
  const [[accepted]] = await Promise.all([accepting, once(dialled, 'connect')]);
  return {
    accepted,
    dialled,
    close: () => {
      accepted.destroy();
      dialled.destroy();
      server.close();
    },
  };
}

/** A SessionCipher whose send and receive keys are both `key`. */
export function keyedCipher(key: Buffer, rekeyIntervalMessages?: number): SessionCipher {
  const send = new CipherState();
  const receive = new CipherState();
  send.initializeKey(key);
  receive.initializeKey(key);
  return new SessionCipher(send, receive, { rekeyIntervalMessages });
}

/** A SecureChannel over `socket` whose records are sealed and opened under `key` (`keyedCipher`), no handshake hash. */
export function keyedChannel(socket: Socket, key: Buffer, rekeyIntervalMessages?: number): SecureChannel {
  return new SecureChannel(
    new FramedSocket(socket),
    keyedCipher(key, rekeyIntervalMessages),
    Buffer.alloc(32),
    Buffer.alloc(32),
  );
}
