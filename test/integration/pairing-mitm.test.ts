// A man in the middle of a pairing (PROTOCOL.md §12.2, §12.6): a TCP relay that terminates Noise on both
// sides with its own static key, so it sees every pairing message in clear. CPace binds both static keys
// and the handshake hash, so relaying the messages fails on both sides, and so does answering them with a
// guessed code; either way the one attempt is spent and the invite is void. A byte-level relay (no Noise
// of its own) is the control: it cannot stop an honest pairing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FerryError, codeFromWire, toFerryError } from '../../src/errors/index.js';
import { MESSAGE_TYPE_CODES, decodeMessage } from '../../src/protocol/index.js';
import { PairingClient } from '../../src/machines/pairing-client.js';
import { readPairHelloInviteId } from '../../src/machines/pairing-exchange.js';
import { PairingServer } from '../../src/machines/pairing-server.js';
import {
  formatPairingCode,
  generateKeyPair,
  randomPairingSecret,
  type KeyPair,
} from '../../src/crypto/index.js';
import {
  FramedSocket,
  MODE_PAIRING,
  clientHandshake,
  serverHandshake,
  type SecureChannel,
} from '../../src/channel/index.js';
import { createInvite, listAllowedClients, listInvites } from '../../src/home/index.js';
import { pairWithServer } from '../../src/client/index.js';
import { startPairingServer, type PairingServerFixture } from '../helpers/pairing-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

type Address = { host: string; port: number };

/** What the attacker does with the two Noise sessions it holds. */
type Attack = 'relay-messages' | 'guess-code' | 'relay-bytes';

/** A relay on 127.0.0.1:0 in front of `target`; `outcome` settles with how its leg to the server ended. */
class Interceptor {
  readonly identity: KeyPair = generateKeyPair();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #serverLeg: Promise<FerryError | 'done'>[] = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: Address, attack: Attack): Promise<Interceptor> {
    const server = createServer();
    const relay = new Interceptor(server);
    server.on('connection', (socket) => {
      relay.#track(socket);
      relay.#serverLeg.push(relay.#intercept(socket, target, attack));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return relay;
  }

  get address(): Address {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('not listening');
    return { host: info.address, port: info.port };
  }

  /** How the attacker's session with the real server ended, for the first intercepted connection. */
  serverLegOutcome(): Promise<FerryError | 'done'> {
    const leg = this.#serverLeg[0];
    assert.ok(leg, 'no connection was intercepted');
    return leg;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #track(socket: Socket): Socket {
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  async #dial(target: Address): Promise<Socket> {
    const socket = this.#track(connect({ ...target, noDelay: true }));
    await once(socket, 'connect');
    return socket;
  }

  async #intercept(clientSocket: Socket, target: Address, attack: Attack): Promise<FerryError | 'done'> {
    if (attack === 'relay-bytes') {
      const serverSocket = await this.#dial(target);
      clientSocket.pipe(serverSocket).pipe(clientSocket);
      await once(serverSocket, 'close');
      return 'done';
    }
    let toClient: SecureChannel | undefined;
    let toServer: SecureChannel | undefined;
    try {
      // The client has no pin for this address, so it accepts the attacker's key at message 2 (§12.6 step 2).
      ({ channel: toClient } = await serverHandshake(new FramedSocket(clientSocket), {
        identity: this.identity,
      }));
      const connectToServer = async (): Promise<SecureChannel> =>
        clientHandshake(new FramedSocket(await this.#dial(target)), {
          identity: this.identity,
          verifyServer: () => undefined,
          mode: MODE_PAIRING,
        });
      if (attack === 'relay-messages') {
        toServer = await connectToServer();
        return await relayMessages(toClient, toServer);
      }
      // guess-code: the attacker reads the invite id in the client's PAIR_HELLO and runs CPace itself on both
      // legs with a guessed secret for it.
      const hello = await toClient.receive(rawPlaintext);
      const inviteId = readPairHelloInviteId(hello);
      toServer = await connectToServer();
      const [towardServer] = await Promise.all([
        impersonateClient(toServer, this.identity, formatPairingCode(inviteId, randomPairingSecret())),
        impersonateServer(toClient, this.identity, hello),
      ]);
      return towardServer;
    } catch (err) {
      return toFerryError(err);
    } finally {
      toClient?.close();
      toServer?.close();
    }
  }
}

// The attacker's decoder: it keeps each record's plaintext as it is, to relay it or to feed its own machine.
const rawPlaintext = (plaintext: Buffer): Buffer => plaintext;

/** Forwards each record's plaintext both ways until one side ends; returns how the server side ended. */
async function relayMessages(toClient: SecureChannel, toServer: SecureChannel): Promise<FerryError | 'done'> {
  const pump = async (from: SecureChannel, to: SecureChannel): Promise<FerryError> => {
    try {
      for (;;) await to.sendPlaintext(await from.receive(rawPlaintext));
    } catch (err) {
      return toFerryError(err);
    } finally {
      // Let the last record (the server's ERROR) reach the other side before it closes.
      await to.end().catch(() => undefined);
    }
  };
  const [, fromServer] = await Promise.all([pump(toClient, toServer), pump(toServer, toClient)]);
  return fromServer;
}

/** The attacker as a pairing client toward the real server, with a guessed code. */
async function impersonateClient(
  toServer: SecureChannel,
  identity: KeyPair,
  guess: string,
): Promise<FerryError | 'done'> {
  const pairing = new PairingClient({
    sid: toServer.handshakeHash,
    clientStaticKey: identity.publicKey,
    serverStaticKey: toServer.remotePublicKey,
    code: guess,
  });
  try {
    await toServer.send(pairing.start());
    const confirm = pairing.receive(await toServer.receive(rawPlaintext));
    await toServer.send(confirm.send!);
    const last = await toServer.receive(rawPlaintext);
    // The server's refusal is an ordinary ERROR message (§12.4).
    const error = last[0] === MESSAGE_TYPE_CODES.ERROR ? decodeMessage(last) : undefined;
    if (error?.type === 'ERROR') {
      return new FerryError(codeFromWire(error.code), error.detail || undefined, { remote: true });
    }
    pairing.receive(last);
    return 'done';
  } catch (err) {
    return toFerryError(err);
  } finally {
    pairing.dispose();
  }
}

/** The attacker as a pairing server toward the client, with a random secret; it forges PAIR_DONE. */
async function impersonateServer(toClient: SecureChannel, identity: KeyPair, hello: Buffer): Promise<void> {
  const pairing = new PairingServer({
    sid: toClient.handshakeHash,
    clientStaticKey: toClient.remotePublicKey,
    serverStaticKey: identity.publicKey,
    secret: randomPairingSecret(),
  });
  try {
    await toClient.send(pairing.receive(hello).send!);
    const confirm = await toClient.receive(rawPlaintext);
    try {
      pairing.receive(confirm);
    } catch {
      // It cannot verify the client's tag; it sends a forged PAIR_DONE anyway, hoping the client pins it.
    }
    await toClient.sendPlaintext(Buffer.concat([Buffer.of(0x43), randomBytes(64)]));
    await toClient.end();
  } catch {
    // The client hung up first: fine, it refused.
  } finally {
    pairing.dispose();
  }
}

async function setUp(
  t: TestContext,
  attack: Attack,
): Promise<{ fx: PairingServerFixture; relay: Interceptor; code: string }> {
  const dir = await makeTempDir('ferry-pairing-mitm-');
  // Closed in reverse order of opening, also when a later step fails.
  const closers: (() => Promise<void>)[] = [() => removeTempDir(dir)];
  t.after(async () => {
    for (const close of closers.reverse()) await close();
  });
  const fx = await startPairingServer(dir);
  closers.push(() => fx.close());
  const relay = await Interceptor.start(fx.address, attack);
  closers.push(() => relay.close());
  const { code } = await createInvite(fx.home, { name: 'laptop' });
  return { fx, relay, code };
}

/** The honest client pairs through `address` with the right code; returns its error and what it pinned. */
async function honestPairing(
  address: Address,
  identity: KeyPair,
  code: string,
): Promise<{ error: FerryError | undefined; pinned: Buffer[] }> {
  const pinned: Buffer[] = [];
  const error = await pairWithServer({
    server: address,
    identity,
    code,
    verifyServer: () => undefined,
    onPaired: (key) => void pinned.push(key),
  }).then(
    () => undefined,
    (err: unknown) => toFerryError(err),
  );
  return { error, pinned };
}

test('a relay that only forwards bytes cannot stop an honest pairing (control)', async (t) => {
  const { fx, relay, code } = await setUp(t, 'relay-bytes');
  const { error, pinned } = await honestPairing(relay.address, generateKeyPair(), code);
  assert.equal(error, undefined);
  assert.deepEqual(pinned, [fx.identity.publicKey]);
});

test('a man in the middle relaying pairing messages between its own Noise sessions fails on both sides and voids the invite', async (t) => {
  const { fx, relay, code } = await setUp(t, 'relay-messages');
  const client = generateKeyPair();

  const { error, pinned } = await honestPairing(relay.address, client, code);
  assert.equal(error?.code, 'PAIRING_FAILED', `client: ${String(error)}`);
  assert.equal(error?.remote, true, "the server's refusal reached the client through the relay");
  assert.deepEqual(pinned, [], 'the client pinned nothing, least of all the attacker');
  const serverSide = await fx.waitForLog((line) => line.event === 'pairing-failed');
  assert.equal(serverSide.code, 'PAIRING_FAILED', 'the server got PAIR_HELLO and PAIR_CONFIRM and refused');
  const leg = await relay.serverLegOutcome();
  // The server's ERROR went through to the client; then the server hung up on the attacker.
  assert.ok(leg !== 'done' && leg.category === 'network', `server leg ended with ${String(leg)}`);

  assert.deepEqual(await listAllowedClients(fx.home), [], 'neither the client nor the attacker is allowed');
  assert.deepEqual(await listInvites(fx.home), [], 'the attempt voided the invite');
  const retry = await honestPairing(fx.address, client, code);
  assert.equal(retry.error?.code, 'PAIRING_FAILED', 'the right code no longer works, even directly');
});

test('a man in the middle answering with a guessed code fails on both sides and voids the invite', async (t) => {
  const { fx, relay, code } = await setUp(t, 'guess-code');
  const client = generateKeyPair();

  const { error, pinned } = await honestPairing(relay.address, client, code);
  assert.equal(error?.code, 'PAIRING_FAILED', `client: ${String(error)}`);
  assert.equal(error?.remote, false, 'the client itself refused the forged PAIR_DONE');
  assert.deepEqual(pinned, []);
  const leg = await relay.serverLegOutcome();
  assert.ok(leg !== 'done', 'the attacker did not pair');
  assert.equal(leg.code, 'PAIRING_FAILED');
  assert.equal(leg.remote, true, 'the real server refused the guess');
  assert.equal((await fx.waitForLog((line) => line.event === 'pairing-failed')).code, 'PAIRING_FAILED');

  assert.deepEqual(await listAllowedClients(fx.home), [], 'the attacker key is not allowed');
  assert.deepEqual(await listInvites(fx.home), [], 'the guess spent the one attempt');
  const retry = await honestPairing(fx.address, client, code);
  assert.equal(retry.error?.code, 'PAIRING_FAILED');
});
