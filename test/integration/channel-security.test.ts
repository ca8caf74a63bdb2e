// The channel layer on real loopback sockets, attacked from the wire: tampered, replayed, reordered and
// undersized records, impostor servers, strangers, slow or wrong preambles (PROTOCOL.md §2-§4).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { FerryError, toFerryError } from '../../src/errors/index.js';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import {
  FramedSocket,
  clientHandshake,
  serverHandshake,
  type SecureChannel,
} from '../../src/channel/index.js';
import {
  MESSAGE_TYPE_CODES,
  PERMISSION_UPLOAD,
  PROTOCOL_VERSION,
  VERSION_ANSWER_BYTES,
  VERSION_OFFER_BYTES,
  encodePreamble,
  encodeVersionOffer,
  type Message,
} from '../../src/protocol/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { FerryServer } from '../../src/server/index.js';
import { CaptureProxy, flipBitAt, rewriteRecords } from '../helpers/capture-proxy.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/**
 * Client->server bytes before the first record: the version offer, `-> e, e1` (u16 + 32 + 1184), `-> s, se`
 * (u16 + 48 + a 5-byte mode entry + 16).
 */
const CLIENT_HANDSHAKE_BYTES = VERSION_OFFER_BYTES + (2 + 32 + 1184) + (2 + 48 + 5 + 16);
/** Server->client bytes before the first record: the answer, `<- e, ee, ekem1, s, es` (u16 + 32 + 1104 + 48 + 16). */
const SERVER_HANDSHAKE_BYTES = VERSION_ANSWER_BYTES + (2 + 32 + 1088 + 16 + 48 + 16);

const PUT_END: Message = { type: 'PUT_END', ref: 1, fileDigest: Buffer.alloc(32, 7) };

/** What a raw server (the channel layer alone, no ferry server) saw on one connection. */
interface RawSession {
  /** Every message the server's channel delivered, in order. */
  delivered: Message[];
  /** Settles with the error that ended the session (handshake or receive). */
  ended: Promise<FerryError>;
  /** Resolves with the channel once the handshake is done. */
  channel: Promise<SecureChannel>;
}

/**
 * A TCP server on 127.0.0.1:0 that runs `serverHandshake` on every connection and then receives until the
 * session ends, recording what the channel delivered.
 */
class RawChannelServer {
  readonly sessions: RawSession[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #waiters: Array<() => void> = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(identity: KeyPair): Promise<RawChannelServer> {
    const server = createServer();
    const raw = new RawChannelServer(server);
    server.on('connection', (socket) => raw.#accept(socket, identity));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return raw;
  }

  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('not listening');
    return { host: info.address, port: info.port };
  }

  async session(index: number): Promise<RawSession> {
    while (this.sessions.length <= index) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.sessions[index]!;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(socket: Socket, identity: KeyPair): void {
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const delivered: Message[] = [];
    const channel = serverHandshake(new FramedSocket(socket), { identity }).then((r) => r.channel);
    const ended = (async () => {
      try {
        const open = await channel;
        for (;;) delivered.push(await open.receive());
      } catch (err) {
        return toFerryError(err);
      }
    })();
    channel.catch(() => undefined);
    this.sessions.push({ delivered, ended, channel });
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** Connects a raw TCP socket to `address`; every socket a test opens is destroyed by `sockets.closeAll`. */
class SocketPool {
  readonly #sockets = new Set<Socket>();

  async connect(address: { host: string; port: number }): Promise<Socket> {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    await once(socket, 'connect');
    return socket;
  }

  closeAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/** Collects everything a raw socket receives until it closes. */
async function readUntilClosed(socket: Socket): Promise<Buffer> {
  const pieces: Buffer[] = [];
  socket.on('data', (piece: Buffer) => pieces.push(piece));
  if (!socket.destroyed) await once(socket, 'close');
  return Buffer.concat(pieces);
}

/** Splits a byte stream of `u16 length || body` frames; throws on a torn tail. */
function splitRecords(stream: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    assert.ok(stream.length - at >= 2, `torn record header at ${at}`);
    const end = at + 2 + stream.readUInt16BE(at);
    assert.ok(end <= stream.length, `torn record at ${at}`);
    records.push(stream.subarray(at + 2, end));
    at = end;
  }
  return records;
}

async function openClient(
  pool: SocketPool,
  address: { host: string; port: number },
  identity: KeyPair,
  verifyServer: (key: Buffer) => void = () => undefined,
): Promise<SecureChannel> {
  const socket = await pool.connect(address);
  return clientHandshake(new FramedSocket(socket), { identity, verifyServer });
}

describe('channel security on real sockets', () => {
  const serverIdentity = generateKeyPair();
  const clientIdentity = generateKeyPair();
  const pool = new SocketPool();
  const cleanups: Array<() => Promise<void> | void> = [];
  let dir: string;

  before(async () => {
    dir = await makeTempDir();
  });

  after(async () => {
    pool.closeAll();
    await Promise.allSettled(cleanups.map(async (cleanup) => cleanup()));
    await removeTempDir(dir);
  });

  async function rawServer(): Promise<RawChannelServer> {
    const server = await RawChannelServer.start(serverIdentity);
    cleanups.push(() => server.close());
    return server;
  }

  async function proxyTo(
    target: { host: string; port: number },
    tamper?: Parameters<typeof CaptureProxy.start>[1],
  ): Promise<CaptureProxy> {
    const proxy = await CaptureProxy.start(target, tamper);
    cleanups.push(() => proxy.close());
    return proxy;
  }

  async function ferryServer(
    name: string,
    options: { allow: boolean; handshakeTimeoutMs?: number },
  ): Promise<FerryServer> {
    const server = await FerryServer.start({
      root: join(dir, name),
      port: 0,
      identity: serverIdentity,
      authorize: (key) =>
        options.allow && key.equals(clientIdentity.publicKey)
          ? { permissions: PERMISSION_UPLOAD }
          : undefined,
      ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    });
    cleanups.push(() => server.close());
    return server;
  }

  test('a record with one flipped bit ends the session with DECRYPT_FAILED and no message is delivered', async () => {
    const server = await rawServer();
    // Flip a bit inside the ciphertext of the first record after the handshake (past its u16 length).
    const proxy = await proxyTo(server.address, {
      tamper: flipBitAt('clientToServer', CLIENT_HANDSHAKE_BYTES + 2 + 5, 3),
    });
    const client = await openClient(pool, proxy.address, clientIdentity);
    await client.send(PUT_END);
    await client.send(PUT_END);
    const session = await server.session(0);
    const error = await session.ended;
    assert.equal(error.code, 'DECRYPT_FAILED');
    assert.deepEqual(session.delivered, []);
    // PROTOCOL.md §4.2: no ERROR goes back, the connection just ends.
    await assert.rejects(client.receive(), (err: FerryError) => err.code === 'CONNECTION_CLOSED');
  });

  test('a replayed record is rejected with DECRYPT_FAILED after the original was delivered once', async () => {
    const server = await rawServer();
    const proxy = await proxyTo(server.address, {
      tamper: rewriteRecords('clientToServer', CLIENT_HANDSHAKE_BYTES, 1, ([first]) => [first!, first!]),
    });
    const client = await openClient(pool, proxy.address, clientIdentity);
    await client.send(PUT_END);
    const session = await server.session(0);
    assert.equal((await session.ended).code, 'DECRYPT_FAILED');
    assert.deepEqual(session.delivered, [PUT_END]);
  });

  test('two records swapped in flight are rejected with DECRYPT_FAILED and neither is delivered', async () => {
    const server = await rawServer();
    const proxy = await proxyTo(server.address, {
      tamper: rewriteRecords('clientToServer', CLIENT_HANDSHAKE_BYTES, 2, ([a, b]) => [b!, a!]),
    });
    const client = await openClient(pool, proxy.address, clientIdentity);
    await client.send({ ...PUT_END, ref: 1 });
    await client.send({ ...PUT_END, ref: 2 });
    const session = await server.session(0);
    assert.equal((await session.ended).code, 'DECRYPT_FAILED');
    assert.deepEqual(session.delivered, []);
  });

  // A u16 length cannot announce more than 65535, so only the lower bound of §4.1 can be crossed on the wire.
  for (const length of [0, 1, 16]) {
    test(`a record announcing ${length} bytes (fewer than 17) is rejected with MESSAGE_MALFORMED`, async () => {
      const server = await rawServer();
      const socket = await pool.connect(server.address);
      await clientHandshake(new FramedSocket(socket), {
        identity: clientIdentity,
        verifyServer: () => undefined,
      });
      const header = Buffer.alloc(2);
      header.writeUInt16BE(length);
      socket.write(Buffer.concat([header, Buffer.alloc(length, 0xaa)]));
      const session = await server.session(0);
      assert.equal((await session.ended).code, 'MESSAGE_MALFORMED');
      assert.deepEqual(session.delivered, []);
    });
  }

  test('a record announcing 16 bytes is rejected from its length alone, before its body arrives (PROTOCOL.md §4.1)', async () => {
    const server = await rawServer();
    const socket = await pool.connect(server.address);
    await clientHandshake(new FramedSocket(socket), {
      identity: clientIdentity,
      verifyServer: () => undefined,
    });
    // Only the two length bytes, then end of stream: a receiver that waits for the body sees CONNECTION_CLOSED.
    socket.end(Buffer.from([0x00, 0x10]));
    const session = await server.session(0);
    assert.equal((await session.ended).code, 'MESSAGE_MALFORMED');
  });

  test('an unknown client key never gets its pipelined PUT_OFFER processed: one ERROR, close, nothing created', async () => {
    const server = await ferryServer('stranger-root', { allow: false });
    const proxy = await proxyTo(server.address);
    const client = await openClient(pool, proxy.address, clientIdentity);
    // Pipelined right behind handshake message 3, before any WELCOME (PROTOCOL.md §5.2).
    const data = Buffer.from('should never be written');
    await client.send({
      type: 'PUT_OFFER',
      ref: 1,
      size: data.length,
      mtimeMs: 0,
      chunkBytes: 64 * 1024,
      mode: 0o644,
      overwrite: true,
      fresh: true,
      path: 'incoming/leak.txt',
    });
    await client.send({ type: 'PUT_DATA', ref: 1, offset: 0, data });
    const reply = await client.receive();
    assert.deepEqual(reply, {
      type: 'ERROR',
      ref: 0,
      code: ERROR_CODES.CLIENT_NOT_ALLOWED.wire,
      detail: reply.type === 'ERROR' ? reply.detail : '',
    });
    await assert.rejects(client.receive(), (err: FerryError) => err.code === 'CONNECTION_CLOSED');
    const [captured] = await proxy.waitForSessions(1);
    await captured!.closed;
    assert.ok(captured!.bytes('clientToServer').length > CLIENT_HANDSHAKE_BYTES, 'the offer really was sent');
    assert.equal(
      splitRecords(captured!.bytes('serverToClient').subarray(SERVER_HANDSHAKE_BYTES)).length,
      1,
      'exactly one record (the ERROR) came back',
    );
    assert.deepEqual(
      await listTree(server.root),
      ['.ferry/', '.ferry/partial/'],
      'no file, directory or partial state',
    );
  });

  test('a client whose pinned key differs aborts before message 3, so the impostor never learns its key', async () => {
    const server = await rawServer();
    const proxy = await proxyTo(server.address);
    const socket = await pool.connect(proxy.address);
    const pinned = generateKeyPair().publicKey;
    let offered: Buffer | undefined;
    const handshake = clientHandshake(new FramedSocket(socket), {
      identity: clientIdentity,
      verifyServer: (key) => {
        offered = key;
        if (!key.equals(pinned)) throw new FerryError('SERVER_KEY_CHANGED');
      },
    });
    await assert.rejects(handshake, (err: FerryError) => err.code === 'SERVER_KEY_CHANGED');
    assert.ok(offered?.equals(serverIdentity.publicKey), 'verifyServer saw the real server key');
    const session = await server.session(0);
    assert.equal(
      (await session.ended).code,
      'CONNECTION_CLOSED',
      'the server saw the connection close mid-handshake',
    );
    await assert.rejects(session.channel);
    const [captured] = await proxy.waitForSessions(1);
    await captured!.closed;
    assert.equal(
      captured!.bytes('clientToServer').length,
      VERSION_OFFER_BYTES + 2 + 32 + 1184,
      'only the version offer and message 1 were sent',
    );
  });

  test('a connection that sends only the version offer is closed when the handshake timeout passes, with nothing sent back', async () => {
    const server = await ferryServer('slow-root', { allow: true, handshakeTimeoutMs: 200 });
    const socket = await pool.connect(server.address);
    const startedAt = performance.now();
    socket.write(encodeVersionOffer());
    const received = await readUntilClosed(socket);
    // The answer goes out with message 2, so a client that never sends message 1 hears nothing.
    assert.equal(received.length, 0);
    assert.ok(performance.now() - startedAt >= 150, 'closed by the deadline, not at once');
  });

  test('a bad magic preamble is closed without a single byte sent back', async () => {
    const server = await ferryServer('magic-root', { allow: true });
    const socket = await pool.connect(server.address);
    socket.write(Buffer.from('FERRX\0\0\x01', 'latin1'));
    assert.equal((await readUntilClosed(socket)).length, 0);
  });

  test('a version offer the server does not meet gets the server version answer back, then a close', async () => {
    const server = await ferryServer('version-root', { allow: true });
    const socket = await pool.connect(server.address);
    socket.write(encodeVersionOffer({ min: PROTOCOL_VERSION + 1, max: PROTOCOL_VERSION + 2 }));
    const received = await readUntilClosed(socket);
    assert.deepEqual(received, encodePreamble(PROTOCOL_VERSION));
  });

  test('a client answered by a preamble of another version reports VERSION_UNSUPPORTED with both versions', async () => {
    // A hand-made "future" server: reads the client's offer and message 1, answers with a version not offered.
    const future = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(encodePreamble(PROTOCOL_VERSION + 1)));
    });
    future.listen(0, '127.0.0.1');
    await once(future, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => future.close(() => resolve())));
    const info = future.address() as { address: string; port: number };
    const handshake = openClient(pool, { host: info.address, port: info.port }, clientIdentity);
    await assert.rejects(handshake, (err: FerryError) => {
      assert.equal(err.code, 'VERSION_UNSUPPORTED');
      assert.match(err.message, new RegExp(`\\b${PROTOCOL_VERSION}\\b[^]*\\b${PROTOCOL_VERSION + 1}\\b`));
      return true;
    });
  });

  test('nonces never repeat: identical plaintext records have distinct ciphertexts within and across sessions', async () => {
    const server = await rawServer();
    const proxy = await proxyTo(server.address);
    const RECORDS_PER_SESSION = 20;
    const handshakeHashes: string[] = [];
    for (let s = 0; s < 2; s++) {
      const client = await openClient(pool, proxy.address, clientIdentity);
      handshakeHashes.push(client.handshakeHash.toString('hex'));
      for (let i = 0; i < RECORDS_PER_SESSION; i++) await client.send(PUT_END);
      await client.end();
      const session = await server.session(s);
      assert.equal((await session.ended).code, 'CONNECTION_CLOSED');
      assert.equal(session.delivered.length, RECORDS_PER_SESSION, 'every record was delivered intact');
      client.close();
    }
    const sessions = await proxy.waitForSessions(2);
    await Promise.all(sessions.map((s) => s.closed));
    const ciphertexts = sessions.flatMap((s) =>
      splitRecords(s.bytes('clientToServer').subarray(CLIENT_HANDSHAKE_BYTES)),
    );
    assert.equal(ciphertexts.length, 2 * RECORDS_PER_SESSION);
    assert.equal(
      new Set(ciphertexts.map((c) => c.toString('hex'))).size,
      ciphertexts.length,
      'a ciphertext repeated',
    );
    assert.notEqual(handshakeHashes[0], handshakeHashes[1]);
    assert.equal(MESSAGE_TYPE_CODES.PUT_END, 0x14);
  });
});
