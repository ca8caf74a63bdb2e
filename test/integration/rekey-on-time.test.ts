// The time-bound rekey on real loopback sockets (PROTOCOL.md §4.3): once a direction's key is older than the
// bound, its next record is preceded by a REKEY record, both sides move to the next key, and the session's
// messages arrive as before. The clock is injected; nothing sleeps.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  FramedSocket,
  clientHandshake,
  serverHandshake,
  type SecureChannel,
} from '../../src/channel/index.js';
import { VERSION_OFFER_BYTES, type Message } from '../../src/protocol/index.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

/** Splits `u16 length || body` frames. */
function frames(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 2 <= stream.length;) {
    const length = stream.readUInt16BE(at);
    out.push(stream.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return out;
}

test('a key past its time bound is replaced after a REKEY record; the messages still arrive in order', async () => {
  let time = 0;
  const rekey = { now: () => time, intervalMs: 60_000 };
  const serverIdentity = generateKeyPair();
  const accepted = new Promise<SecureChannel>((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      sockets.push(socket);
      serverHandshake(new FramedSocket(socket), { identity: serverIdentity, rekey }).then(
        (r) => resolve(r.channel),
        reject,
      );
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
  });
  await once(servers[0]!, 'listening');
  const { port } = servers[0]!.address() as { port: number };
  // A recording relay in front of the server, to count the client's records on the wire.
  const upstream: Buffer[] = [];
  const relay = createServer((client) => {
    client.on('error', () => undefined);
    const toServer = connect({ host: '127.0.0.1', port });
    toServer.on('error', () => undefined);
    sockets.push(client, toServer);
    client.on('data', (piece: Buffer) => {
      upstream.push(piece);
      toServer.write(piece);
    });
    toServer.pipe(client);
  });
  servers.push(relay);
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  const socket = connect({ host: '127.0.0.1', port: (relay.address() as { port: number }).port });
  socket.on('error', () => undefined);
  sockets.push(socket);
  await once(socket, 'connect');
  const client = await clientHandshake(new FramedSocket(socket), {
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    rekey,
  });
  const server = await accepted;

  const sent: Message[] = [1, 2, 3, 4].map((ref) => ({ type: 'CANCEL', ref }));
  await client.send(sent[0]!);
  await client.send(sent[1]!);
  time += 60_000; // the client's send key is now due
  await client.send(sent[2]!);
  await client.send(sent[3]!); // same key as the third: due again only after another interval
  time += 30_000;
  await server.send({ type: 'ACK', ref: 9 }); // the server's send key is due too (90 s old)
  const received: Message[] = [];
  for (let i = 0; i < sent.length; i++) received.push(await server.receive());
  assert.deepEqual(received, sent);
  assert.deepEqual(await client.receive(), { type: 'ACK', ref: 9 });

  // On the wire: handshake message 1 and 3, then 5 records: two messages, REKEY, two messages.
  const wire = Buffer.concat(upstream).subarray(VERSION_OFFER_BYTES);
  const records = frames(wire).slice(2);
  assert.equal(records.length, 5, 'four messages and one REKEY');
  // CANCEL is 5 bytes (21 with the tag); REKEY is the smallest record there is: one byte and the tag.
  assert.deepEqual(
    records.map((r) => r.length),
    [21, 21, 17, 21, 21],
  );
  client.close();
  server.close();
});
