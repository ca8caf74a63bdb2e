// A normal session's records are read only once the server admits its key (PROTOCOL.md §3.2.2: refuse before
// reading a single record). Since stop 36 they went to the worker pool only after admission, but were still
// decrypted on the event loop as they arrived, up to 1 MiB a connection, while the allow-list was asked: in
// each of the 128 unauthenticated slots, by anyone who completes a handshake. Now the socket is paused at the
// handshake's end and what was read with message 3 is kept undecoded. Real sockets on loopback, a real client
// handshake whose records are sealed with its session keys, pipelined behind message 3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramedSocket, clientHandshake, serverHandshake } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { MODE_PAIRING, type HandshakeMode } from '../../src/protocol/index.js';
import { socketPair } from '../helpers/loopback-socket-pair.js';

/** 8 records of 60 KiB: 480 KiB, within what loopback buffers and under the event loop's 1 MiB. */
const RECORD = Buffer.alloc(60 * 1024, 0x5a);
const RECORDS = 8;

/** Several turns of this process's event loop: a readable socket's data would be delivered meanwhile. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function pipelined(
  t: { after: (fn: () => void) => void },
  mode?: HandshakeMode,
): Promise<{ received: () => number; release: () => void; done: Promise<unknown> }> {
  const pair = await socketPair();
  t.after(pair.close);
  const serverSide = new FramedSocket(pair.accepted);
  const server = serverHandshake(serverSide, { identity: generateKeyPair(), holdUntilAdmitted: true });
  const client = await clientHandshake(new FramedSocket(pair.dialled), {
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    ...(mode === undefined ? {} : { mode }),
  });
  // Pipelined behind message 3, before the server has even returned from its handshake.
  for (let i = 0; i < RECORDS; i++) await client.sendPlaintext(RECORD);
  const { channel } = await server;
  let received = 0;
  const done = (async () => {
    for (let i = 0; i < RECORDS; i++) {
      await channel.receive((plaintext) => plaintext.length);
      received++;
    }
  })();
  return { received: () => received, release: () => channel.releaseRecords(), done };
}

test('a normal session has none of its pipelined records read until it is admitted, then all of them in order', async (t) => {
  const session = await pipelined(t);
  // The records are in the server socket's receive buffer (loopback, written whole); a readable socket's
  // data would have been delivered and opened in these turns.
  await turns(20);
  assert.equal(session.received(), 0, 'no record opened before admission');
  session.release();
  await session.done;
  assert.equal(session.received(), RECORDS);
});

test("a pairing's records are read at once: its exchange is records", async (t) => {
  const session = await pipelined(t, MODE_PAIRING);
  await session.done;
  assert.equal(session.received(), RECORDS);
});
