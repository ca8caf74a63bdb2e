// A refused client must read the refusal (PROTOCOL.md §3.2.2): after its ERROR and end of stream the server
// waits for the client's close (linger-for-client-close.ts) instead of closing at once, since a close with
// the client's pipelined records arriving answers them with a reset, and a reset can cost the client the
// ERROR (it printed `CONNECTION_CLOSED: retrying` instead of CLIENT_NOT_ALLOWED).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { ERROR_CODES, FerryError, isFerryError } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { withRetries } from '../../src/client/index.js';
import type { SessionEvent } from '../../src/client/index.js';
import { connectRefusedClient } from '../helpers/refused-client.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: FerryServer;
const serverIdentity = generateKeyPair();

before(async () => {
  dir = await makeTempDir();
  server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: serverIdentity,
    authorize: () => undefined,
  });
});

after(async () => {
  await server.close();
  await removeTempDir(dir);
});

test('after CLIENT_NOT_ALLOWED the server ends its session only once the client closed, and sends no reset', async () => {
  const { socket, channel: client, errors, order, refused } = await connectRefusedClient(server);
  const reply = await client.receive();
  assert.equal(reply.type, 'ERROR');
  assert.equal(reply.type === 'ERROR' && reply.code, ERROR_CODES.CLIENT_NOT_ALLOWED.wire);
  await assert.rejects(client.receive(), (err: FerryError) => err.code === 'CONNECTION_CLOSED');

  // The first bytes of a record the client had in flight when the refusal came (the channel has ended on
  // this side, so raw), then the client's own end.
  order.push('client ended');
  socket.end(Buffer.from([0x00, 0x40]));
  await once(socket, 'close');
  assert.equal((await refused).code, 'CLIENT_NOT_ALLOWED');
  assert.deepEqual(order, ['client ended', 'server ended the session']);
  assert.deepEqual(errors, [], 'the client saw no reset');
});

test('a client whose work hit the close after the server refused it reports CLIENT_NOT_ALLOWED and does not retry', async () => {
  const events: SessionEvent[] = [];
  let attempts = 0;
  await assert.rejects(
    withRetries(
      {
        server: server.address,
        identity: generateKeyPair(),
        verifyServer: () => undefined,
        retry: { retries: 3, sleep: () => Promise.resolve() },
      },
      (event) => events.push(event),
      async (session) => {
        attempts++;
        // The refusal was read (the WELCOME it replaces fails with it); then a write meets the closed socket,
        // as a pipelined request does when the server's close wins the race.
        await session.welcome.catch(() => undefined);
        assert.ok(session.failed, 'the session read the refusal');
        throw new FerryError('CONNECTION_CLOSED', 'a write met the closed socket');
      },
    ),
    (err) => isFerryError(err, 'CLIENT_NOT_ALLOWED'),
  );
  assert.equal(attempts, 1);
  assert.deepEqual(
    events.filter((event) => event.type === 'retrying'),
    [],
  );
});
