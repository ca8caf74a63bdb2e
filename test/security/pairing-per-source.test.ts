// Pairing (PROTOCOL.md §12) was bounded only in total: four at once, thirty per minute. One source could
// hold the four slots (a mode-1 handshake, then nothing, for the handshake timeout) or spend the minute's
// thirty on wrong codes, and nobody else could pair meanwhile. Now each source (an IPv4 address, an IPv6 /64)
// may hold one pairing at once and start five per minute (MAX_*_PER_SOURCE in server/pairing-admission.ts);
// another source still pairs. Real server on loopback (127.0.0.1 and 127.0.0.2), real sockets, real CPace.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FramedSocket, MODE_PAIRING, clientHandshake, type SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { startPairingServer, type PairingServerFixture } from '../helpers/pairing-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import {
  MAX_CONCURRENT_PAIRINGS_PER_SOURCE,
  MAX_PAIRINGS_PER_MINUTE_PER_SOURCE,
} from '../../src/server/pairing-admission.js';

async function fixture(
  t: TestContext,
  options: Parameters<typeof startPairingServer>[1] = {},
): Promise<PairingServerFixture> {
  const dir = await makeTempDir('ferry-pairing-source-');
  const fx = await startPairingServer(dir, options);
  t.after(async () => {
    await fx.close();
    await removeTempDir(dir);
  });
  return fx;
}

/** A mode-1 session from `localAddress`: the handshake and nothing else (what a slot-holder sends). */
async function heldPairing(
  fx: PairingServerFixture,
  t: TestContext,
  localAddress: string,
): Promise<SecureChannel> {
  const socket = connect({ ...fx.address, localAddress, noDelay: true });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  return clientHandshake(new FramedSocket(socket), {
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    mode: MODE_PAIRING,
  });
}

/** The first record the server sends on a held pairing: its ERROR code's name, or 'none' if it closed. */
async function firstAnswer(channel: SecureChannel): Promise<string> {
  try {
    const message = await channel.receive();
    if (message.type !== 'ERROR') return message.type;
    return Object.entries(ERROR_CODES).find(([, c]) => c.wire === message.code)?.[0] ?? 'ERROR';
  } catch {
    return 'none';
  }
}

/** Resolves when the server has logged `count` lines of `event`. */
function logged(fx: PairingServerFixture, event: string, count: number): Promise<unknown> {
  let seen = 0;
  return fx.waitForLog((line) => line.event === event && ++seen === count);
}

test('one source holds one pairing at once: a second from it is SERVER_BUSY, while another source gets a slot', async (t) => {
  assert.equal(MAX_CONCURRENT_PAIRINGS_PER_SOURCE, 1);
  const fx = await fixture(t);
  const held = await heldPairing(fx, t, '127.0.0.1');
  await logged(fx, 'pairing-started', 1);
  const second = await heldPairing(fx, t, '127.0.0.1');
  assert.equal(await firstAnswer(second), 'SERVER_BUSY');
  // Another source starts a pairing while the first still holds its slot.
  const other = await heldPairing(fx, t, '127.0.0.2');
  await logged(fx, 'pairing-started', 2);
  held.close();
  other.close();
  await logged(fx, 'pairing-failed', 2);
});

test('one source starts five pairings a minute: the sixth is SERVER_BUSY, while another source gets a slot', async (t) => {
  const now = new Date('2030-01-01T00:00:00.000Z');
  // Only the per-minute limit is looked at here: the finished pairings' slots need not be back yet.
  const fx = await fixture(t, { pairing: { now: () => now, maxConcurrentPerSource: 10, maxConcurrent: 10 } });
  for (let i = 0; i < MAX_PAIRINGS_PER_MINUTE_PER_SOURCE; i++) {
    await heldPairing(fx, t, '127.0.0.1');
    await logged(fx, 'pairing-started', i + 1);
  }
  const sixth = await heldPairing(fx, t, '127.0.0.1');
  assert.equal(await firstAnswer(sixth), 'SERVER_BUSY');
  await heldPairing(fx, t, '127.0.0.2');
  await logged(fx, 'pairing-started', MAX_PAIRINGS_PER_MINUTE_PER_SOURCE + 1);
});
