// The per-source handshake rate limit on a real server over loopback (docs/SECURITY.md, "Handshakes under
// load"): a burst past the limit is closed at accept, unread and unanswered, so the server does no
// X25519/ML-KEM work for it; another source is not affected; the same client connects again once the
// injected clock has refilled its bucket; the table of sources stays bounded.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { FramedSocket, clientHandshake } from '../../src/channel/index.js';
import { FerryServer, type ServeOptions } from '../../src/server/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

interface Rig {
  server: FerryServer;
  advance: (ms: number) => void;
  /** Session events by type, counted as the server publishes them. */
  sessions: Map<string, number>;
}

async function rig(t: TestContext, host: string, overrides: Partial<ServeOptions> = {}): Promise<Rig> {
  const dir = await makeTempDir('ferry-rate-');
  let now = 1_000_000;
  const server = await FerryServer.start({
    root: dir,
    host,
    port: 0,
    identity: generateKeyPair(),
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    partialSweepIntervalMs: 0,
    handshakeRate: { handshakesPerSecond: 2, handshakeBurst: 3, now: () => now },
    ...overrides,
  });
  const sessions = new Map<string, number>();
  server.events.on('event', (event) => {
    if (event.type.startsWith('session-')) sessions.set(event.type, (sessions.get(event.type) ?? 0) + 1);
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  return { server, advance: (ms) => void (now += ms), sessions };
}

/**
 * A full client handshake from `localAddress` (PROTOCOL.md §3); resolves with WELCOME's type, or rejects,
 * and reports how many bytes the server sent in either case.
 */
async function handshake(
  t: TestContext,
  server: FerryServer,
  identity: KeyPair,
  localAddress?: string,
): Promise<{ ok: boolean; bytesFromServer: number }> {
  const socket = connect({ ...server.address, ...(localAddress ? { localAddress } : {}) });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  try {
    const channel = await clientHandshake(new FramedSocket(socket), {
      identity,
      verifyServer: () => undefined,
    });
    assert.equal((await channel.receive()).type, 'WELCOME');
    t.after(() => channel.close());
    return { ok: true, bytesFromServer: socket.bytesRead };
  } catch {
    if (!socket.closed) await once(socket, 'close');
    return { ok: false, bytesFromServer: socket.bytesRead };
  }
}

test('a burst past the limit is closed before the handshake; another source and a later retry connect', async (t) => {
  const { server, advance, sessions } = await rig(t, '127.0.0.1');
  const client = generateKeyPair();
  for (let i = 0; i < 3; i++) assert.equal((await handshake(t, server, client, '127.0.0.1')).ok, true);
  // The fourth and fifth send a real message 1: nothing comes back, not even message 2, so the server did
  // no DH and no ML-KEM encapsulation for them, and no session was started.
  for (let i = 0; i < 2; i++)
    assert.deepEqual(await handshake(t, server, client, '127.0.0.1'), { ok: false, bytesFromServer: 0 });
  assert.deepEqual(server.handshakeRate!.stats, { allowed: 3, refused: 2, forgotten: 0 });
  assert.equal(sessions.get('session-opened'), 3);
  assert.equal(sessions.get('session-refused'), undefined);
  // 127.0.0.2 is another source with its own bucket.
  assert.equal((await handshake(t, server, client, '127.0.0.2')).ok, true);
  // Half a second at 2 per second gives 127.0.0.1 one token back: one honest retry connects, the next not.
  advance(500);
  assert.equal((await handshake(t, server, client, '127.0.0.1')).ok, true);
  assert.equal((await handshake(t, server, client, '127.0.0.1')).ok, false);
  assert.deepEqual(server.handshakeRate!.stats, { allowed: 5, refused: 3, forgotten: 0 });
  assert.equal(sessions.get('session-opened'), 5);
});

test('over IPv6 loopback the source is ::1 (its /64), limited apart from 127.0.0.1', async (t) => {
  const { server } = await rig(t, '::1');
  const client = generateKeyPair();
  for (let i = 0; i < 3; i++) assert.equal((await handshake(t, server, client)).ok, true);
  assert.deepEqual(await handshake(t, server, client), { ok: false, bytesFromServer: 0 });
  assert.equal(server.handshakeRate!.size, 1);
  assert.deepEqual(server.handshakeRate!.stats, { allowed: 3, refused: 1, forgotten: 0 });
});

test('the table of sources stays bounded: past maxSources the first seen is forgotten', async (t) => {
  const { server } = await rig(t, '127.0.0.1', {
    handshakeRate: { handshakesPerSecond: 1, handshakeBurst: 1, maxSources: 2, now: () => 0 },
  });
  const client = generateKeyPair();
  for (const local of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'])
    assert.equal((await handshake(t, server, client, local)).ok, true, local);
  assert.equal(server.handshakeRate!.size, 2);
  assert.equal(server.handshakeRate!.stats.forgotten, 2);
  // The two most recent are still remembered and refused; the first was forgotten and starts afresh.
  assert.equal((await handshake(t, server, client, '127.0.0.5')).ok, false);
  assert.equal((await handshake(t, server, client, '127.0.0.2')).ok, true);
  assert.equal(server.handshakeRate!.size, 2);
});

test('the defaults let an honest client open 17 sessions at once (--streams 16 and its control session)', async (t) => {
  const { server } = await rig(t, '127.0.0.1', { handshakeRate: { now: () => 0 } });
  const client = generateKeyPair();
  const results = await Promise.all(Array.from({ length: 17 }, () => handshake(t, server, client)));
  assert.ok(
    results.every((r) => r.ok),
    'all 17 connected',
  );
  assert.equal(server.handshakeRate!.stats.refused, 0);
});
