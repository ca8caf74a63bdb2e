// The client's ML-KEM key pair for message 1 may be made by the caller before the handshake starts
// (openClientChannel makes it while the TCP connect is in flight, issue 16): message 1 then carries that
// pair's public key, and the handshake zeroes the pair however it ends. On a real loopback socket, against a
// server that reads message 1 and hangs up.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { KemKeyPair, generateKeyPair } from '../../src/crypto/index.js';
import { FramedSocket, clientHandshake } from '../../src/channel/index.js';
import { toFerryError } from '../../src/errors/index.js';

/** A KemKeyPair that counts its close() calls. */
class CountedKemKeyPair extends KemKeyPair {
  closes = 0;
  override close(): void {
    this.closes++;
    super.close();
  }
}

describe('clientHandshake with a KEM key pair made by its caller', () => {
  const server = createServer();
  after(() => server.close());

  test('message 1 carries its public key, and the failed handshake closes it', async () => {
    const received: Buffer[] = [];
    const messageOne = new Promise<Buffer>((resolve) => {
      server.once('connection', (socket: Socket) => {
        socket.on('data', (piece: Buffer) => {
          received.push(piece);
          // version offer + frame header + e (32) + e1 (1184): then hang up, as a refusing server does.
          const bytes = Buffer.concat(received);
          if (bytes.length >= 32 + 1184) {
            socket.destroy();
            resolve(bytes);
          }
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const kemKeyPair = new CountedKemKeyPair();
    const outcome = clientHandshake(new FramedSocket(socket), {
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      kemKeyPair,
    }).then(
      () => undefined,
      (err: unknown) => toFerryError(err),
    );
    const bytes = await messageOne;
    assert.ok(bytes.includes(kemKeyPair.publicKey), 'message 1 holds the given public key');
    const error = await outcome;
    assert.ok(error !== undefined, 'the handshake failed when the server hung up');
    assert.ok(kemKeyPair.closes >= 1, 'the key pair was closed');
  });
});
