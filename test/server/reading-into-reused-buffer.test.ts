// A server's accepted socket re-wrapped to read into one reused buffer (readingIntoReusedBuffer, issue 14).
// It relies on Node's `_handle` field (Node offers `onread` only in the Socket constructor): these tests fail
// if a Node upgrade breaks that. Real loopback TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { ReusedReads } from '../../src/channel/index.js';
import { readingIntoReusedBuffer } from '../../src/server/reading-into-reused-buffer.js';

/** A paused-at-accept server whose connection is re-wrapped onto `reads`, and the client socket. */
async function pair(
  reads: ReusedReads,
  allowHalfOpen: boolean,
): Promise<{ served: Socket; dialled: Socket; closeServer: () => Promise<void> }> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepting = once(server, 'connection') as Promise<[Socket]>;
  const dialled = connect({ host: '127.0.0.1', port });
  const [[accepted]] = await Promise.all([accepting, once(dialled, 'connect')]);
  const served = readingIntoReusedBuffer(accepted, reads);
  return {
    served,
    dialled,
    closeServer: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('every read of an accepted connection lands in the one reused buffer, none is lost', async () => {
  const reads = new ReusedReads();
  const { served, dialled, closeServer } = await pair(reads, false);
  const arena = reads.onread.buffer as Buffer;
  let received = 0;
  let elsewhere = 0;
  let sum = 0;
  reads.attach((bytes) => {
    if (bytes.buffer !== arena.buffer) elsewhere++;
    received += bytes.length;
    for (const b of bytes) sum += b;
  });
  // No 'data' event: the reads go only through the onread callback.
  served.on('data', () => assert.fail('a read came as a data event, not into the reused buffer'));
  const piece = Buffer.alloc(64 * 1024, 3);
  const total = 4 * 1024 * 1024;
  for (let sent = 0; sent < total; sent += piece.length) dialled.write(piece);
  dialled.end();
  await once(served, 'end');
  assert.equal(received, total);
  assert.equal(sum, total * 3);
  assert.equal(elsewhere, 0);
  await once(served, 'close');
  await closeServer();
});

test('the re-wrapped socket keeps the peer address, writes, and closes the listener when done', async () => {
  const reads = new ReusedReads();
  const { served, dialled, closeServer } = await pair(reads, false);
  reads.attach(() => undefined);
  assert.equal(served.remoteAddress, dialled.localAddress);
  assert.equal(served.remotePort, dialled.localPort);
  assert.equal(served.localPort, dialled.remotePort);
  const answer = once(dialled, 'data');
  served.write('hello');
  assert.equal(String((await answer)[0]), 'hello');
  // Without half-open (the server's setting), the client's end ends the served socket too.
  dialled.end();
  await Promise.all([once(served, 'close'), once(dialled, 'close')]);
  await closeServer();
});

test('half-open is kept when the server allows it: the served side still answers after the peer ends', async () => {
  const reads = new ReusedReads();
  const { served, dialled, closeServer } = await pair(reads, true);
  reads.attach(() => undefined);
  dialled.end();
  await once(served, 'end');
  const chunks: Buffer[] = [];
  dialled.on('data', (d: Buffer) => chunks.push(d));
  served.end('bye');
  await once(dialled, 'close');
  assert.equal(Buffer.concat(chunks).toString(), 'bye');
  await closeServer();
});

test('a paused served socket stops reading until resumed (backpressure)', async () => {
  const reads = new ReusedReads();
  const { served, dialled, closeServer } = await pair(reads, false);
  let received = 0;
  reads.attach((bytes) => {
    received += bytes.length;
  });
  served.pause();
  const piece = Buffer.alloc(64 * 1024);
  // The kernel buffers fill while the served side reads nothing: the client's writes back up.
  while (dialled.write(piece));
  const pending = dialled.writableLength;
  assert.ok(pending > 0);
  assert.equal(received, 0);
  served.resume();
  await once(dialled, 'drain');
  assert.ok(received > 0);
  dialled.destroy();
  await once(served, 'close');
  await closeServer();
});
