// A connection that ends in the middle of a record (its peer's last write cut short, then a clean end of
// stream) must end the session on this side: on a server, a session must not outlive its client's connection
// (a resource no client pays for any more); on a client, a transfer must fail rather than wait forever. Long
// records are opened on threads (issue 14: a server's admitted sessions, a client's downloads), and a record
// split across socket reads is assembled in the block being filled, which goes to the threads only once the
// record is whole; the end of stream waited for that block, which never came, and the socket closed under a
// receive that never returned (found by the relay fuzz, test/fuzz/tree-relay-fuzz.test.ts: a file timeout).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { FramedSocket, clientHandshake, serverHandshake } from '../../src/channel/index.js';
import { ClientSession } from '../../src/client/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { SealPool } from '../../src/transfer/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** How long a session may take to end after its connection did: a deadline on the event, not a pause. */
const SESSION_END_MS = 5000;

/** `settled`, or a failure naming `what` (and what `running` says still runs) past SESSION_END_MS. */
async function withinDeadline(
  settled: Promise<unknown>,
  what: string,
  running: () => unknown,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SESSION_END_MS)));
  try {
    if ((await Promise.race([settled.then(() => 'settled'), late])) === 'late')
      assert.fail(`${what} outlived its connection: ${JSON.stringify(running())}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends `socket` after the length of a record long enough for the threads (4000 bytes) and `bytes` of it. */
function endInARecord(socket: Socket, bytes: number): void {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(4000);
  socket.end(Buffer.concat([length, Buffer.alloc(bytes, 7)]));
}

const CUTS = [
  { what: 'a record cut after its length', bytes: 0 },
  { what: 'a record cut in its body', bytes: 1000 },
];

for (const { what, bytes } of CUTS)
  test(`a server's session ends when its client's connection ends in ${what}`, async (t) => {
    const { server } = await startTempDirServer(t, 'ferry-cut-record-', {
      authorize: () => ({ permissions: PERMISSION_UPLOAD }),
      threads: 2,
    });
    const socket = await connected(t, server.address);
    const channel = await clientHandshake(new FramedSocket(socket), {
      identity: generateKeyPair(),
      verifyServer: () => undefined,
    });
    // Admitted: from WELCOME on, the server opens this session's long records on its threads.
    assert.equal((await channel.receive()).type, 'WELCOME');
    const closed = once(server.events, 'session-closed');
    endInARecord(socket, bytes);
    await withinDeadline(closed, 'the server session', () => server.sessionStates());
  });

for (const { what, bytes } of CUTS)
  test(`a client's request fails when its server's connection ends in ${what}`, async (t) => {
    const identity = generateKeyPair();
    const listener = createServer((socket) => {
      socket.on('error', () => undefined);
      void (async () => {
        const { channel } = await serverHandshake(new FramedSocket(socket), { identity });
        await channel.send({ type: 'WELCOME', permissions: PERMISSION_DOWNLOAD, maxFileBytes: 0 });
        endInARecord(socket, bytes);
      })().catch(() => socket.destroy());
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    t.after(() => new Promise((resolve) => listener.close(resolve)));
    const pool = new SealPool(2);
    t.after(() => pool.close());
    const { port } = listener.address() as { port: number };
    const session = await ClientSession.connect(
      { host: '127.0.0.1', port },
      { identity: generateKeyPair(), verifyServer: () => undefined, openPool: pool },
    );
    t.after(() => session.close());
    await session.welcome;
    // A download's answer, as it waits for one: records open on the pool's threads (a download's own).
    const answer = session.take(session.openRef());
    answer.catch(() => undefined);
    await withinDeadline(
      answer.then(() => assert.fail('an answer came')).catch((err: unknown) => err),
      'the client session',
      () => ({ failed: session.failed }),
    );
    await assert.rejects(answer, { code: 'CONNECTION_CLOSED' });
  });

async function connected(t: TestContext, address: { host: string; port: number }): Promise<Socket> {
  const socket = connect(address);
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}
