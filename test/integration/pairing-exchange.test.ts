// Pairing (PROTOCOL.md §12) on real loopback sockets: the library server with pairing on, `pairWithServer`
// as the client, and raw mode-1 channels for what an honest client never sends. No timers: every wait is on
// a socket event or a log line.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { isFerryError, toFerryError, type FerryError } from '../../src/errors/index.js';
import {
  formatFerryId,
  formatPairingCode,
  generateKeyPair,
  parsePairingCode,
  randomPairingSecret,
  type KeyPair,
} from '../../src/crypto/index.js';
import { FramedSocket, MODE_PAIRING, clientHandshake, type SecureChannel } from '../../src/channel/index.js';
import { PairingClient } from '../../src/machines/pairing-client.js';
import { createInvite, invitesPath, listAllowedClients, listInvites } from '../../src/home/index.js';
import { ClientSession, pairWithServer, type PairWithServerOptions } from '../../src/client/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startPairingServer, type PairingServerFixture } from '../helpers/pairing-server.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** What a root holds when nothing was ever written to it: the server's own partial directory. */
const EMPTY_ROOT = ['.ferry/', '.ferry/partial/'];

async function fixture(
  t: TestContext,
  options: Parameters<typeof startPairingServer>[1] = {},
): Promise<PairingServerFixture> {
  const dir = await makeTempDir('ferry-pairing-');
  const started: PairingServerFixture[] = [];
  t.after(async () => {
    await started[0]?.close();
    await removeTempDir(dir);
  });
  started.push(await startPairingServer(dir, options));
  return started[0]!;
}

/** `pairWithServer` against the fixture, recording what the client pinned. */
async function pair(
  fx: PairingServerFixture,
  identity: KeyPair,
  code: string,
  extra: Partial<PairWithServerOptions> = {},
): Promise<{ outcome: Awaited<ReturnType<typeof pairWithServer>>; pinned: Buffer[] }> {
  const pinned: Buffer[] = [];
  const outcome = await pairWithServer({
    server: fx.address,
    identity,
    code,
    verifyServer: () => undefined,
    onPaired: (key) => void pinned.push(key),
    ...extra,
  });
  return { outcome, pinned };
}

/** Runs a pairing that must fail; returns its error and what the client pinned meanwhile (must be nothing). */
async function pairFails(fx: PairingServerFixture, identity: KeyPair, code: string): Promise<FerryError> {
  const pinned: Buffer[] = [];
  const err = await pairWithServer({
    server: fx.address,
    identity,
    code,
    verifyServer: () => undefined,
    onPaired: (key) => void pinned.push(key),
  }).then(
    () => assert.fail('pairing succeeded'),
    (e: unknown) => toFerryError(e),
  );
  assert.deepEqual(pinned, [], 'a failed pairing never pins');
  return err;
}

/** A well-formed code (right check character) for `inviteId` with a secret that is not the invite's. */
function wrongCodeFor(code: string): string {
  const parsed = parsePairingCode(code);
  const other = Buffer.from(parsed.secret);
  other[0] = (other[0] ?? 0) ^ 0x01;
  parsed.dispose();
  return formatPairingCode(parsePairingCode(code).inviteId, other);
}

/** A raw mode-1 session: the handshake and nothing else, for sending what an honest client never sends. */
async function rawPairingChannel(
  fx: PairingServerFixture,
  t: TestContext,
  identity: KeyPair = generateKeyPair(),
): Promise<SecureChannel> {
  const socket = connect({ ...fx.address, noDelay: true });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  return clientHandshake(new FramedSocket(socket), {
    identity,
    verifyServer: () => undefined,
    mode: MODE_PAIRING,
  });
}

// A raw channel's decoder that keeps a record's plaintext as it is: the tests look at bytes an honest peer
// never sends, or wait for the end.
const rawPlaintext = (plaintext: Buffer): Buffer => plaintext;

test('pairWithServer with the right code: the server allow-lists the client with the invite name and permissions, the client learns the server key, and a normal session is admitted afterwards', async (t) => {
  const fx = await fixture(t);
  const client = generateKeyPair();
  const { code, id } = await createInvite(fx.home, { name: 'laptop', permissions: ['upload'] });
  const storedSecret = (await readFile(invitesPath(fx.home), 'utf8')).match(/"secret": "([0-9a-f]+)"/)?.[1];
  assert.ok(storedSecret, 'the invite store holds the secret');

  const { outcome, pinned } = await pair(fx, client, code);

  assert.deepEqual(outcome.serverPublicKey, fx.identity.publicKey);
  assert.equal(outcome.serverId, formatFerryId(fx.identity.publicKey));
  assert.deepEqual(pinned, [fx.identity.publicKey], 'onPaired ran once, with the server key');
  assert.equal(
    outcome.permissions,
    PERMISSION_UPLOAD,
    'WELCOME follows PAIR_DONE with the invite permissions',
  );
  const allowed = await listAllowedClients(fx.home);
  assert.deepEqual(
    allowed.map((c) => ({ id: c.id, name: c.name, permissions: c.permissions })),
    [{ id: formatFerryId(client.publicKey), name: 'laptop', permissions: ['upload'] }],
  );
  assert.deepEqual(await listInvites(fx.home), [], 'the invite is used up');
  const paired = await fx.waitForLog((line) => line.event === 'paired');
  assert.equal(paired['invite'], id);

  const session = await ClientSession.connect(fx.address, {
    identity: client,
    verifyServer: (key) => assert.deepEqual(key, fx.identity.publicKey),
  });
  t.after(() => session.close());
  assert.equal(
    (await session.welcome).permissions,
    PERMISSION_UPLOAD,
    'the paired client is admitted in mode 0',
  );

  // Logs name the invite, never the code or its secret; the root was not touched by pairing.
  const compact = code.replaceAll('-', '');
  assert.ok(!fx.logText.includes(code) && !fx.logText.includes(compact), 'the code is not logged');
  assert.ok(!fx.logText.includes(storedSecret), 'the secret is not logged');
  assert.deepEqual(await listTree(fx.root), EMPTY_ROOT);
});

test('a wrong code is refused with PAIRING_FAILED and voids the invite: the right code then fails too', async (t) => {
  const fx = await fixture(t);
  const client = generateKeyPair();
  const { code } = await createInvite(fx.home);

  const wrong = await pairFails(fx, client, wrongCodeFor(code));
  assert.equal(wrong.code, 'PAIRING_FAILED');
  assert.equal(wrong.remote, true, "it is the server's verdict");
  assert.equal(wrong.category, 'trust');
  assert.deepEqual(await listInvites(fx.home), [], 'one attempt per code (PROTOCOL.md §12.0.2)');

  const right = await pairFails(fx, client, code);
  assert.equal(right.code, 'PAIRING_FAILED');
  assert.equal(right.message, wrong.message, 'a used code fails exactly like a wrong one');
  assert.deepEqual(await listAllowedClients(fx.home), [], 'nobody was allow-listed');
  assert.deepEqual(await listTree(fx.root), EMPTY_ROOT);
});

test('an expired invite is refused exactly like a wrong code, and is removed from the store', async (t) => {
  const fx = await fixture(t);
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  const live = await createInvite(fx.home);
  // Created last: every write drops invites expired by its own clock, and this one is live by that clock.
  const expired = await createInvite(fx.home, { ttlMs: 60_000, now: () => twoHoursAgo });
  assert.deepEqual(
    (await listInvites(fx.home)).map((i) => i.id),
    [live.id],
    'an expired invite is not listed',
  );

  const err = await pairFails(fx, generateKeyPair(), expired.code);
  const wrong = await pairFails(fx, generateKeyPair(), wrongCodeFor(live.code));
  assert.equal(err.code, 'PAIRING_FAILED');
  assert.equal(err.message, wrong.message, 'the client cannot tell expired from wrong (§12.5 step 3)');
  const seen = await fx.waitForLog(
    (line) => line.event === 'pairing-invite' && line['invite'] === expired.id,
  );
  assert.equal(seen.code, 'INVITE_EXPIRED', 'the operator can tell, from the server log');
  assert.match(await readFile(invitesPath(fx.home), 'utf8'), /"invites": \[\]/, 'nothing left in the file');
  assert.deepEqual(await listAllowedClients(fx.home), []);
});

test('a code naming no invite at all fails the same way, after the full exchange', async (t) => {
  const fx = await fixture(t);
  const { code } = await createInvite(fx.home);
  const unknownId = code.startsWith('aaaaa') ? 'bbbbb' : 'aaaaa';
  const err = await pairFails(fx, generateKeyPair(), formatPairingCode(unknownId, randomPairingSecret()));
  assert.equal(err.code, 'PAIRING_FAILED');
  assert.equal((await listInvites(fx.home)).length, 1, 'an unrelated invite is not touched');
});

test('a mode-1 session gets no file operation before pairing: a PUT_OFFER in place of PAIR_HELLO is refused and the invite is kept', async (t) => {
  const fx = await fixture(t);
  await createInvite(fx.home);
  const channel = await rawPairingChannel(fx, t);
  await channel.send({
    type: 'PUT_OFFER',
    ref: 1,
    size: 5,
    mtimeMs: 0,
    chunkBytes: 64 * 1024,
    mode: 0o644,
    overwrite: true,
    fresh: true,
    path: 'planted.txt',
  });
  const reply = await channel.receive();
  assert.equal(reply.type, 'ERROR');
  assert.equal(reply.type === 'ERROR' && reply.code, ERROR_CODES.MESSAGE_UNEXPECTED.wire);
  await assert.rejects(channel.receive(), (e) => isFerryError(e, 'CONNECTION_CLOSED'));
  assert.deepEqual(await listTree(fx.root), EMPTY_ROOT, 'nothing under the root');
  assert.equal((await listInvites(fx.home)).length, 1, 'the invite is not consumed before PAIR_HELLO');
});

test('a PUT_OFFER in place of PAIR_CONFIRM is refused, and the invite named by PAIR_HELLO is void', async (t) => {
  const fx = await fixture(t);
  const { code } = await createInvite(fx.home);
  const identity = generateKeyPair();
  const channel = await rawPairingChannel(fx, t, identity);
  const pairing = new PairingClient({
    sid: channel.handshakeHash,
    clientStaticKey: identity.publicKey,
    serverStaticKey: channel.remotePublicKey,
    code,
  });
  t.after(() => pairing.dispose());
  await channel.send(pairing.start());
  const reply = await channel.receive(rawPlaintext);
  assert.equal(reply[0], 0x41, 'PAIR_REPLY');
  await channel.send({
    type: 'PUT_OFFER',
    ref: 1,
    size: 5,
    mtimeMs: 0,
    chunkBytes: 64 * 1024,
    mode: 0o644,
    overwrite: true,
    fresh: true,
    path: 'planted.txt',
  });
  const error = await channel.receive();
  assert.equal(error.type === 'ERROR' && error.code, ERROR_CODES.MESSAGE_UNEXPECTED.wire);
  assert.deepEqual(await listTree(fx.root), EMPTY_ROOT);
  assert.deepEqual(await listInvites(fx.home), [], 'PAIR_HELLO was the one attempt');
  assert.deepEqual(await listAllowedClients(fx.home), []);
});

test('over the concurrent pairing limit a session gets SERVER_BUSY before anything is read; the invite survives', async (t) => {
  // Both held from this one source: its own limit is raised so the total one is what refuses.
  const fx = await fixture(t, { pairing: { maxConcurrent: 2, maxConcurrentPerSource: 2 } });
  const { code } = await createInvite(fx.home);
  const held = [await rawPairingChannel(fx, t), await rawPairingChannel(fx, t)];
  let started = 0;
  await fx.waitForLog((line) => line.event === 'pairing-started' && ++started === 2);

  const err = await pairFails(fx, generateKeyPair(), code);
  assert.equal(err.code, 'SERVER_BUSY');
  assert.equal(err.retryable, true);
  assert.equal((await listInvites(fx.home)).length, 1, 'PAIR_HELLO was never read, so the invite lives');

  for (const channel of held) channel.close();
  await fx.waitForLog((line) => line.event === 'pairing-failed' && line.code === 'CONNECTION_CLOSED');
});

test('the per-minute pairing limit follows the injected clock', async (t) => {
  let now = new Date('2030-01-01T00:00:00.000Z');
  const fx = await fixture(t, { pairing: { maxPerMinute: 1, now: () => now } });
  // Invites are created on the same clock, so they are live for the server.
  const first = await createInvite(fx.home, { now: () => now });
  const second = await createInvite(fx.home, { now: () => now });

  await pair(fx, generateKeyPair(), first.code);
  const busy = await pairFails(fx, generateKeyPair(), second.code);
  assert.equal(busy.code, 'SERVER_BUSY');
  now = new Date(now.getTime() + 60_000);
  await pair(fx, generateKeyPair(), second.code);
});

test('a pairing session that stalls is closed at the deadline counted from accept', async (t) => {
  const fx = await fixture(t, { handshakeTimeoutMs: 300 });
  await createInvite(fx.home);
  const channel = await rawPairingChannel(fx, t);
  await assert.rejects(channel.receive(rawPlaintext), (e) => isFerryError(e, 'CONNECTION_CLOSED'));
  await fx.waitForLog((line) => line.event === 'pairing-failed' && line.code === 'TIMEOUT');
  assert.equal((await listInvites(fx.home)).length, 1);
});

test('a server without pairing refuses mode 1 like an unknown client (CLIENT_NOT_ALLOWED)', async (t) => {
  const fx = await fixture(t, { pairing: false });
  const { code } = await createInvite(fx.home);
  const err = await pairFails(fx, generateKeyPair(), code);
  assert.equal(err.code, 'CLIENT_NOT_ALLOWED');
  assert.equal((await listInvites(fx.home)).length, 1);
});
