// Version negotiation on real loopback sockets (PROTOCOL.md §2, §11): a version 1 peer is refused with
// VERSION_UNSUPPORTED in both directions (raw version 1 bytes), and a man in the middle that rewrites the
// client's offer or the server's answer makes the session fail, because both are the Noise prologue (§2.5).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FerryError, toFerryError } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  FramedSocket,
  clientHandshake,
  serverHandshake,
  type SecureChannel,
} from '../../src/channel/index.js';
import { PROTOCOL_VERSION, encodePreamble, encodeVersionOffer } from '../../src/protocol/index.js';
import { listFiles } from '../../src/index.js';

type Direction = 'clientToServer' | 'serverToClient';
type Address = { host: string; port: number };

const servers: Server[] = [];
const sockets = new Set<Socket>();

function track(socket: Socket): Socket {
  socket.on('error', () => undefined);
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  return socket;
}

async function listen(onConnection: (socket: Socket) => void): Promise<Address> {
  const server = createServer((socket) => onConnection(track(socket)));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const info = server.address() as { address: string; port: number };
  return { host: info.address, port: info.port };
}

/** A server running the real `serverHandshake`; each connection's outcome is a channel or the error. */
async function handshakeServer(): Promise<{
  address: Address;
  outcomes: Promise<SecureChannel | FerryError>[];
}> {
  const identity = generateKeyPair();
  const outcomes: Promise<SecureChannel | FerryError>[] = [];
  const address = await listen((socket) => {
    outcomes.push(
      serverHandshake(new FramedSocket(socket), { identity }).then(
        (r) => r.channel,
        (err: unknown) => toFerryError(err),
      ),
    );
  });
  return { address, outcomes };
}

/** A man in the middle that replaces bytes at absolute offsets of one direction's stream. */
async function rewritingProxy(
  target: Address,
  direction: Direction,
  edits: Map<number, number>,
): Promise<Address> {
  return listen((client) => {
    const upstream = track(connect({ host: target.host, port: target.port }));
    const pipe = (from: Socket, to: Socket, rewrite: boolean): void => {
      let seen = 0;
      from.on('data', (piece: Buffer) => {
        const out = Buffer.from(piece);
        if (rewrite) {
          for (const [offset, value] of edits)
            if (offset >= seen && offset < seen + out.length) out[offset - seen] = value;
        }
        seen += piece.length;
        to.write(out);
      });
      from.on('end', () => to.end());
      from.on('close', () => to.destroy());
    };
    pipe(client, upstream, direction === 'clientToServer');
    pipe(upstream, client, direction === 'serverToClient');
  });
}

async function dial(address: Address): Promise<SecureChannel> {
  const socket = track(connect({ host: address.host, port: address.port, noDelay: true }));
  await once(socket, 'connect');
  return clientHandshake(new FramedSocket(socket), {
    identity: generateKeyPair(),
    verifyServer: () => undefined,
  });
}

async function readUntilClosed(socket: Socket): Promise<Buffer> {
  const pieces: Buffer[] = [];
  socket.on('data', (piece: Buffer) => pieces.push(piece));
  if (!socket.destroyed) await once(socket, 'close');
  return Buffer.concat(pieces);
}

describe('version negotiation (PROTOCOL.md §2)', () => {
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  test('a version 1 client gets the server version answer and a close; the server reports VERSION_UNSUPPORTED', async () => {
    const { address, outcomes } = await handshakeServer();
    const socket = track(connect({ host: address.host, port: address.port }));
    await once(socket, 'connect');
    // Version 1's opening, byte for byte: FERRY\0, u16 1, then message 1 (`-> e`: u16 32, 32 bytes).
    socket.write(Buffer.concat([Buffer.from('464552525900' + '0001' + '0020', 'hex'), randomBytes(32)]));
    assert.deepEqual(await readUntilClosed(socket), Buffer.from('4645525259000002', 'hex'));
    const outcome = await outcomes[0]!;
    assert.ok(
      outcome instanceof FerryError && outcome.code === 'VERSION_UNSUPPORTED',
      'the server refused the version',
    );
    assert.match(outcome.message, /\b1\b[^]*\b2\b/);
  });

  test('a version 1 server answering per its §2.3 makes the client report VERSION_UNSUPPORTED, without retrying lower', async () => {
    const received: Buffer[] = [];
    let connections = 0;
    // Version 1's server, byte for byte: read the 8-byte preamble; a version other than 1 gets its own
    // preamble (FERRY\0, u16 1) and a close.
    const address = await listen((socket) => {
      connections += 1;
      socket.once('readable', () => {
        const preamble = socket.read(8) as Buffer | null;
        if (preamble !== null) received.push(preamble);
        socket.end(Buffer.from('4645525259000001', 'hex'));
      });
    });
    await assert.rejects(dial(address), (err: FerryError) => {
      assert.equal(err.code, 'VERSION_UNSUPPORTED');
      assert.match(err.message, new RegExp(`\\b${PROTOCOL_VERSION}\\b[^]*\\b1\\b`));
      return true;
    });
    // The v1 server read a preamble naming version 2 (the offer's highest), and the client did not come back
    // with a lower offer.
    assert.deepEqual(received, [Buffer.from('4645525259000002', 'hex')]);
    assert.equal(connections, 1);
  });

  test('the client library does not come back after VERSION_UNSUPPORTED, retries or not (PROTOCOL.md §2.4)', async () => {
    let connections = 0;
    const address = await listen((socket) => {
      connections += 1;
      socket.once('readable', () => {
        socket.read(8);
        socket.end(Buffer.from('4645525259000001', 'hex'));
      });
    });
    const sleeps: number[] = [];
    await assert.rejects(
      listFiles({
        server: address,
        identity: generateKeyPair(),
        verifyServer: () => undefined,
        remotePath: '',
        // Retries allowed, with a sleep that returns at once: only the error's own rule keeps it from coming back.
        retry: {
          retries: 5,
          sleep: (ms) => {
            sleeps.push(ms);
            return Promise.resolve();
          },
        },
      }),
      (err: FerryError) => err.code === 'VERSION_UNSUPPORTED',
    );
    assert.equal(connections, 1);
    assert.deepEqual(sleeps, []);
  });

  for (const [what, edits] of [
    ['widens the offer to versions 1-2', new Map([[9, 1]])],
    ['raises the offer to versions 2-3', new Map([[7, 3]])],
    [
      'cuts the offer to version 1 only (a forced downgrade)',
      new Map([
        [7, 1],
        [9, 1],
      ]),
    ],
  ] as const) {
    test(`a man in the middle that ${what} makes the session fail`, async () => {
      const { address, outcomes } = await handshakeServer();
      const proxy = await rewritingProxy(address, 'clientToServer', edits);
      await assert.rejects(dial(proxy), (err: FerryError) => {
        assert.ok(['DECRYPT_FAILED', 'HANDSHAKE_FAILED', 'CONNECTION_CLOSED'].includes(err.code), err.code);
        return true;
      });
      const outcome = await outcomes[0]!;
      assert.ok(outcome instanceof FerryError, 'the server never opened a session');
    });
  }

  for (const version of [1, 3]) {
    test(`a man in the middle that rewrites the server's choice to ${version} makes the session fail`, async () => {
      const { address, outcomes } = await handshakeServer();
      const proxy = await rewritingProxy(address, 'serverToClient', new Map([[7, version]]));
      await assert.rejects(dial(proxy), (err: FerryError) => err.code === 'VERSION_UNSUPPORTED');
      const outcome = await outcomes[0]!;
      assert.ok(outcome instanceof FerryError, 'the server never opened a session');
    });
  }

  test('untouched, the same proxy carries a whole handshake (the failures above are the rewrites)', async () => {
    const { address, outcomes } = await handshakeServer();
    const proxy = await rewritingProxy(address, 'clientToServer', new Map());
    const channel = await dial(proxy);
    const server = await outcomes[0]!;
    assert.ok(!(server instanceof FerryError), 'the server opened the session');
    assert.deepEqual(channel.handshakeHash, server.handshakeHash);
    channel.close();
    server.close();
  });

  test('the offer and answer on the wire are the documented bytes', () => {
    assert.deepEqual(encodeVersionOffer(), Buffer.from('46455252590000020002', 'hex'));
    assert.deepEqual(encodePreamble(PROTOCOL_VERSION), Buffer.from('4645525259000002', 'hex'));
  });
});
