import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parsePairingCode, randomPairingSecret } from '../../src/crypto/pairing-code.js';
import { encodeMessage } from '../../src/protocol/index.js';
import { PairingClient } from '../../src/machines/pairing-client.js';
import { readPairHelloInviteId } from '../../src/machines/pairing-exchange.js';
import { PairingServer } from '../../src/machines/pairing-server.js';
import { isFerryError } from '../../src/errors/index.js';
import {
  MAX_LIVE_INVITES,
  consumeInvite,
  createInvite,
  invitesPath,
  listInvites,
  revokeInvite,
} from '../../src/home/invite-store.js';

const POSIX = process.platform !== 'win32';
const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const at = (ms: number) => () => new Date(T0 + ms);
const MINUTE = 60_000;

async function tempHome(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-invites-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const code =
  (name: 'INVITE_INVALID' | 'INVITE_EXPIRED' | 'USAGE_INVALID' | 'CONFIG_INVALID') => (err: unknown) =>
    isFerryError(err, name);

async function storedFile(home: string): Promise<{ version: number; invites: Record<string, unknown>[] }> {
  return JSON.parse(await readFile(invitesPath(home), 'utf8'));
}

test('`createInvite` stores the invite 0600 and returns a code whose id and secret match the file', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, {
    name: 'alice',
    ttlMs: 10 * MINUTE,
    permissions: ['upload'],
    now: at(0),
  });
  assert.match(created.code, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
  assert.equal(created.expiresAt, '2024-05-01T12:10:00.000Z');
  const parsed = parsePairingCode(created.code);
  assert.equal(parsed.inviteId, created.id);
  const file = await storedFile(home);
  assert.deepEqual(file, {
    version: 1,
    invites: [
      {
        id: created.id,
        secret: parsed.secret.toString('hex'),
        name: 'alice',
        permissions: ['upload'],
        createdAt: '2024-05-01T12:00:00.000Z',
        expiresAt: '2024-05-01T12:10:00.000Z',
      },
    ],
  });
  if (POSIX) assert.equal((await stat(invitesPath(home))).mode & 0o777, 0o600);
  // The listing never carries the secret.
  assert.deepEqual(await listInvites(home, { now: at(0) }), [
    {
      id: created.id,
      name: 'alice',
      permissions: ['upload'],
      createdAt: '2024-05-01T12:00:00.000Z',
      expiresAt: '2024-05-01T12:10:00.000Z',
    },
  ]);
});

test('`consumeInvite` returns the invite with its secret once, then INVITE_INVALID', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, { now: at(0) });
  const invite = await consumeInvite(home, created.id, { now: at(MINUTE) });
  assert.deepEqual(invite.secret, parsePairingCode(created.code).secret);
  assert.deepEqual(invite.permissions, ['upload', 'download']);
  assert.equal(inspect(invite), `ConsumedInvite ${created.id} [redacted]`);
  assert.doesNotMatch(JSON.stringify(invite), new RegExp(invite.secret.toString('hex')));
  invite.dispose();
  assert.ok(invite.secret.every((byte) => byte === 0));
  assert.equal((await storedFile(home)).invites.length, 0);
  await assert.rejects(consumeInvite(home, created.id, { now: at(MINUTE) }), code('INVITE_INVALID'));
});

test('`consumeInvite` of an expired invite removes it and is INVITE_EXPIRED', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, { ttlMs: MINUTE, now: at(0) });
  // Still good one millisecond before expiry is exercised by the next test; at expiry it is refused.
  await assert.rejects(consumeInvite(home, created.id, { now: at(MINUTE) }), code('INVITE_EXPIRED'));
  assert.equal((await storedFile(home)).invites.length, 0);
  await assert.rejects(consumeInvite(home, created.id, { now: at(MINUTE) }), code('INVITE_INVALID'));
});

test('an invite is good until the millisecond before `expiresAt`', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, { ttlMs: MINUTE, now: at(0) });
  assert.equal((await consumeInvite(home, created.id, { now: at(MINUTE - 1) })).id, created.id);
});

test('expired invites are purged on every write and left out of listings', async (t) => {
  const home = await tempHome(t);
  const old = await createInvite(home, { ttlMs: MINUTE, now: at(0) });
  const other = await createInvite(home, { ttlMs: 10 * MINUTE, now: at(0) });
  assert.deepEqual(
    (await listInvites(home, { now: at(2 * MINUTE) })).map((i) => i.id),
    [other.id],
  );
  // Listing does not write; the expired entry is still in the file until the next write.
  assert.equal((await storedFile(home)).invites.length, 2);
  const fresh = await createInvite(home, { now: at(2 * MINUTE) });
  assert.deepEqual(
    (await storedFile(home)).invites.map((i) => i['id']),
    [other.id, fresh.id],
  );
  assert.ok(!(await storedFile(home)).invites.some((i) => i['id'] === old.id));
});

test('`revokeInvite` removes a live invite and says whether there was one', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, { now: at(0) });
  assert.equal(await revokeInvite(home, created.id, { now: at(0) }), true);
  assert.equal(await revokeInvite(home, created.id, { now: at(0) }), false);
  await assert.rejects(consumeInvite(home, created.id, { now: at(0) }), code('INVITE_INVALID'));
});

test('concurrent `consumeInvite` calls for one invite: exactly one gets it', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, { now: at(0) });
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, () => consumeInvite(home, created.id, { now: at(0) })),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(code('INVITE_INVALID')(r.reason));
});

test('concurrent `createInvite` calls lose nothing and never reuse an id', async (t) => {
  const home = await tempHome(t);
  const created = await Promise.all(Array.from({ length: 12 }, () => createInvite(home, { now: at(0) })));
  const ids = new Set(created.map((c) => c.id));
  assert.equal(ids.size, 12);
  assert.deepEqual(new Set((await listInvites(home, { now: at(0) })).map((i) => i.id)), ids);
  // No lock or temp file is left behind.
  assert.deepEqual(await readdir(home), ['invites.json']);
});

test('`createInvite` refuses bad options with USAGE_INVALID', async (t) => {
  const home = await tempHome(t);
  for (const options of [
    { ttlMs: 0 },
    { ttlMs: 8 * 24 * 60 * MINUTE },
    { ttlMs: 1.5 },
    { permissions: [] },
    { permissions: ['upload', 'upload'] as const },
    { permissions: ['delete'] as unknown as ['upload'] },
    { name: '' },
    { name: 'bad\u001bname' },
  ]) {
    await assert.rejects(createInvite(home, options), code('USAGE_INVALID'), JSON.stringify(options));
  }
});

test(`\`createInvite\` refuses more than ${MAX_LIVE_INVITES} live invites`, async (t) => {
  const home = await tempHome(t);
  const invites = Array.from({ length: MAX_LIVE_INVITES }, (_, i) => ({
    id: `aaa${'abcdefghijklmnopqrstuvwxyz234567'.charAt(Math.floor(i / 32))}${'abcdefghijklmnopqrstuvwxyz234567'.charAt(i % 32)}`,
    secret: randomPairingSecret().toString('hex'),
    permissions: ['upload'],
    createdAt: new Date(T0).toISOString(),
    expiresAt: new Date(T0 + MINUTE).toISOString(),
  }));
  await writeFile(invitesPath(home), JSON.stringify({ version: 1, invites }), { mode: 0o600 });
  await assert.rejects(createInvite(home, { now: at(0) }), code('USAGE_INVALID'));
  // Once they have expired there is room again.
  await createInvite(home, { now: at(MINUTE) });
  assert.equal((await storedFile(home)).invites.length, 1);
});

test('a malformed invites.json is CONFIG_INVALID and the message never shows a secret', async (t) => {
  const home = await tempHome(t);
  const secretLike = 'ffffffffffffffff';
  for (const json of [
    { version: 2, invites: [] },
    { version: 1, invites: {} },
    {
      version: 1,
      invites: [{ id: 'abcde', secret: secretLike, permissions: ['upload'], createdAt: 'x', expiresAt: 'y' }],
    },
    {
      version: 1,
      invites: [{ id: 'ab', secret: 'ffffffffff', permissions: ['upload'], createdAt: 'x', expiresAt: 'y' }],
    },
    // v1's shapes (3-character id, 5-byte secret) and a secret whose top 2 bits are set (more than 30 bits).
    {
      version: 1,
      invites: [{ id: 'abc', secret: 'ffffffffff', permissions: ['upload'], createdAt: 'x', expiresAt: 'y' }],
    },
    {
      version: 1,
      invites: [{ id: 'abcde', secret: '7fffffff', permissions: ['upload'], createdAt: 'x', expiresAt: 'y' }],
    },
    { version: 1, extra: 1, invites: [] },
  ]) {
    await writeFile(invitesPath(home), JSON.stringify(json), { mode: 0o600 });
    await assert.rejects(listInvites(home), (err) => {
      assert.ok(code('CONFIG_INVALID')(err), String(err));
      assert.doesNotMatch((err as Error).message, new RegExp(secretLike));
      return true;
    });
  }
});

test('`consumeInvite` in a home without invites is INVITE_INVALID and writes nothing', async (t) => {
  const home = await tempHome(t);
  await assert.rejects(consumeInvite(home, 'abcde'), code('INVITE_INVALID'));
  assert.deepEqual(await readdir(home), []);
});

test('a stale lock file is broken; a fresh one is waited for', async (t) => {
  const home = await tempHome(t);
  const lock = `${invitesPath(home)}.lock`;
  await writeFile(lock, '');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  await createInvite(home, { now: at(0) });
  assert.deepEqual(await readdir(home), ['invites.json']);

  await writeFile(lock, '');
  let finished = false;
  const pending = createInvite(home, { now: at(0) }).then(() => {
    finished = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(finished, false);
  await unlink(lock);
  await pending;
  assert.equal((await listInvites(home, { now: at(0) })).length, 2);
});

test('an invite from the store pairs a client end to end, and the code works only once', async (t) => {
  const home = await tempHome(t);
  const created = await createInvite(home, { name: 'laptop', permissions: ['upload'] });
  const leg = { sid: randomBytes(32), clientStaticKey: randomBytes(32), serverStaticKey: randomBytes(32) };
  const runServerSide = async (hello: Buffer, session: typeof leg) => {
    const inviteId = readPairHelloInviteId(hello);
    const invite = await consumeInvite(home, inviteId).catch((err: unknown) => {
      assert.ok(code('INVITE_INVALID')(err) || code('INVITE_EXPIRED')(err));
      return undefined;
    });
    const server = new PairingServer({ ...session, secret: invite?.secret });
    invite?.dispose();
    return { server, invite };
  };

  const client = new PairingClient({ ...leg, code: created.code });
  const hello = encodeMessage(client.start());
  const { server, invite } = await runServerSide(hello, leg);
  assert.equal(invite?.name, 'laptop');
  const reply = server.receive(hello);
  assert.ok(!reply.done);
  const confirm = client.receive(reply.send);
  assert.ok(!confirm.done);
  const done = server.receive(confirm.send);
  assert.ok(done.done && done.send !== undefined);
  assert.ok(client.receive(done.send).done);

  // The same code again: the invite is gone, the server runs with a stand-in secret and the pairing fails.
  const leg2 = { ...leg, sid: randomBytes(32) };
  const again = new PairingClient({ ...leg2, code: created.code });
  const hello2 = encodeMessage(again.start());
  const second = await runServerSide(hello2, leg2);
  assert.equal(second.invite, undefined);
  const reply2 = second.server.receive(hello2);
  assert.ok(!reply2.done);
  const confirm2 = again.receive(reply2.send);
  assert.ok(!confirm2.done);
  assert.throws(
    () => second.server.receive(confirm2.send),
    (err) => isFerryError(err, 'PAIRING_FAILED'),
  );
});
