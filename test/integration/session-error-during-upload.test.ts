// A server's session ERROR (PROTOCOL.md §5.1, ref 0) that arrives while the client is streaming PUT_DATA must
// fail the upload with that error: the data path applies the session's failure like every other send, so a
// refusal the server meant as final is not mistaken for a cut connection (CONNECTION_CLOSED, retryable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FramedSocket, serverHandshake, type SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES, isFerryError } from '../../src/errors/index.js';
import { ClientSession, uploadFile } from '../../src/client/index.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** A server that accepts an offer, then answers its first PUT_DATA with a session ERROR and keeps reading. */
async function startRefusingServer(): Promise<{
  port: number;
  dataSeen: Promise<void>;
  close: () => Promise<void>;
}> {
  const identity = generateKeyPair();
  const sockets = new Set<Socket>();
  let sawData!: () => void;
  const dataSeen = new Promise<void>((resolve) => (sawData = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    void (async () => {
      let channel: SecureChannel | undefined;
      try {
        ({ channel } = await serverHandshake(new FramedSocket(socket), { identity }));
        await channel.send({ type: 'WELCOME', permissions: 3, maxFileBytes: 0 });
        let refused = false;
        for (;;) {
          const message = await channel.receive();
          if (message.type === 'PUT_OFFER') {
            await channel.send({
              type: 'PUT_ACCEPT',
              ref: message.ref,
              restarted: false,
              existing: false,
              joinToken: Buffer.alloc(16),
              haveDigest: Buffer.alloc(32),
              ranges: [],
            });
          } else if (message.type === 'PUT_DATA' && !refused) {
            refused = true;
            sawData();
            // The socket stays open and read: only the client's own reaction to the ERROR ends the session.
            await channel.send({
              type: 'ERROR',
              ref: 0,
              code: ERROR_CODES.MESSAGE_MALFORMED.wire,
              detail: 'refused by the test server',
            });
          }
        }
      } catch {
        // The client hung up.
      } finally {
        channel?.close();
      }
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    port: address.port,
    dataSeen,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a session ERROR that arrives while PUT_DATA streams fails the upload with the server’s code, not a retryable CONNECTION_CLOSED', async (t) => {
  const dir = await makeTempDir();
  t.after(() => removeTempDir(dir));
  const server = await startRefusingServer();
  t.after(() => server.close());
  const local = join(dir, 'big.bin');
  await writeRandomFile(local, 32 * 1024 * 1024);
  const session = await ClientSession.connect(
    { host: '127.0.0.1', port: server.port },
    { identity: generateKeyPair(), verifyServer: () => undefined },
  );
  t.after(() => session.close());
  const upload = uploadFile(session, local, 'big.bin', { chunkBytes: 1024 * 1024 });
  await assert.rejects(upload, (err: unknown) => {
    assert.ok(isFerryError(err), String(err));
    assert.equal(err.code, 'MESSAGE_MALFORMED', `${err.code}: ${err.message}`);
    assert.equal(err.remote, true);
    assert.equal(err.retryable, false);
    return true;
  });
  await server.dataSeen;
});
