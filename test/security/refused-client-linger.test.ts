// A key not on the allow-list completes the handshake and is refused (PROTOCOL.md §3.2.2): ERROR
// CLIENT_NOT_ALLOWED, the server's end of stream, then a linger of up to 2 s for the client's close
// (linger-for-client-close.ts), so the client's pipelined records are not answered with a reset that could
// hide the ERROR. During that linger the server went on opening and queueing what the client sent, up to
// 1 MiB, then paused the socket: 1 MiB held for a session already refused, in each of the 128
// unauthenticated slots (128 MiB), and the paused socket never saw the client's end of stream, so the close
// came at the linger's timeout with bytes unread: a reset. Now the linger reads and drops. Real sockets on
// loopback, a real server; the hostile client seals valid records with its session keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { connect } from 'node:net';
import { FramedSocket, clientHandshake } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { connectRefusedClient } from '../helpers/refused-client.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** What the refused client sends after its handshake: 8 MiB of sealed records, eight times the old queue. */
const SENT_BYTES = 8 * 2 ** 20;
const RECORD_PLAINTEXT_BYTES = 60 * 1024;

test('a refused client sending 8 MiB of records during the linger is read and dropped: its end is seen, no reset', async (t) => {
  const dir = await makeTempDir('ferry-refused-linger-');
  // The server asks its allow-list once its handshake is done: from then on it reads records, not raw bytes.
  let askedAllowList!: () => void;
  const recordsRead = new Promise<void>((resolve) => (askedAllowList = resolve));
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: () => {
      askedAllowList();
      return undefined;
    },
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const { socket, channel: client, errors, order, refused } = await connectRefusedClient(server);
  const closed = once(socket, 'close');
  // The client reads nothing until it has sent everything (so its channel does not end with the server's
  // end of stream); each send waits for 'drain', so what it sends leaves it only as the server reads it
  // (or the kernels buffer it).
  socket.pause();
  await recordsRead;
  const record = Buffer.alloc(RECORD_PLAINTEXT_BYTES, 0x5a);
  for (let sent = 0; sent < SENT_BYTES; sent += record.length) await client.sendPlaintext(record);
  order.push('client ended');
  socket.end();
  socket.resume();
  const reply = await client.receive();
  assert.equal(reply.type === 'ERROR' && reply.code, ERROR_CODES.CLIENT_NOT_ALLOWED.wire);
  await closed;
  assert.equal((await refused).code, 'CLIENT_NOT_ALLOWED');
  // Before: the server stopped reading at 1 MiB, never saw the end behind the rest, and closed at the
  // linger's timeout with bytes unread (ECONNRESET here).
  assert.deepEqual(errors, [], 'the client saw no reset');
  assert.deepEqual(order, ['client ended', 'server ended the session']);
});

test('a session refused for its client limit (SERVER_BUSY) lingers as unauthenticated: the oldest such is dropped first', async (t) => {
  const client = generateKeyPair();
  const { server } = await startTempDirServer(t, 'ferry-busy-linger-', {
    limits: { maxSessionsPerClient: 1, maxUnauthenticated: 1 },
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
  });
  await openAdmittedSession(t, server.address, client);
  // The key's second session is refused SERVER_BUSY; it reads nor closes nothing, so the server lingers.
  const busy = connect(server.address);
  busy.on('error', () => undefined);
  t.after(() => busy.destroy());
  await once(busy, 'connect');
  const channel = await clientHandshake(new FramedSocket(busy), {
    identity: client,
    verifyServer: () => undefined,
  });
  const reply = await channel.receive();
  assert.equal(reply.type === 'ERROR' && reply.code, ERROR_CODES.SERVER_BUSY.wire);
  busy.pause();
  const busyClosed = once(busy, 'close');
  // A new connection takes the one unauthenticated slot: the lingering socket is the oldest, dropped.
  const next = connect(server.address);
  next.on('error', () => undefined);
  t.after(() => next.destroy());
  await busyClosed;
  // Before: the refused socket counted nowhere, lived out its 2 s linger, and nothing was dropped.
  assert.equal(server.gate!.stats.droppedUnauthenticated, 1);
});
