import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFerryId } from '../../src/crypto/ferry-id.js';
import { isFerryError } from '../../src/errors/index.js';
import {
  AllowList,
  AllowListWatcher,
  allowClient,
  allowListPath,
  listAllowedClients,
  loadAllowListIfChanged,
  revokeClient,
} from '../../src/home/index.js';

const POSIX = process.platform !== 'win32';
const FIXED_NOW = () => new Date('2024-05-01T12:00:00.000Z');

async function tempHome(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-allow-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function newClient(): { publicKey: Buffer; id: string } {
  const publicKey = randomBytes(32);
  return { publicKey, id: formatFerryId(publicKey) };
}

function configError(pattern: RegExp): (err: unknown) => boolean {
  return (err) => isFerryError(err, 'CONFIG_INVALID') && pattern.test(err.message);
}

test('`AllowList.load` of a home without the file is an empty list', async (t) => {
  const list = await AllowList.load(await tempHome(t));
  assert.equal(list.clients.length, 0);
  assert.equal(list.find(randomBytes(32)), undefined);
});

test('`allowClient`, `listAllowedClients` and `revokeClient` round-trip', async (t) => {
  const home = await tempHome(t);
  const alice = newClient();
  const bob = newClient();
  const added = await allowClient(home, alice.id.toUpperCase().replaceAll('-', ''), {
    name: 'alice',
    now: FIXED_NOW,
  });
  assert.equal(added.added, true);
  assert.deepEqual(added.client, {
    id: alice.id,
    name: 'alice',
    permissions: ['upload', 'download'],
    addedAt: '2024-05-01T12:00:00.000Z',
  });
  await allowClient(home, bob.id, { permissions: ['download'], root: 'shared/bob' });
  assert.deepEqual(
    (await listAllowedClients(home)).map((c) => [c.id, c.permissions, c.root]),
    [
      [alice.id, ['upload', 'download'], undefined],
      [bob.id, ['download'], 'shared/bob'],
    ],
  );
  const list = await AllowList.load(home);
  assert.equal(list.find(alice.publicKey)?.name, 'alice');
  assert.equal(list.find(bob.publicKey)?.root, 'shared/bob');

  assert.equal(await revokeClient(home, alice.id), true);
  assert.equal(await revokeClient(home, alice.id), false);
  const after = await AllowList.load(home);
  assert.equal(after.find(alice.publicKey), undefined);
  assert.ok(after.find(bob.publicKey));
});

test('`allowClient` updates an entry in place, keeping what was not given', async (t) => {
  const home = await tempHome(t);
  const carol = newClient();
  await allowClient(home, carol.id, {
    name: 'carol',
    permissions: ['download'],
    root: 'carol',
    now: FIXED_NOW,
  });
  const updated = await allowClient(home, carol.id, { name: 'carol-laptop', now: () => new Date(0) });
  assert.equal(updated.added, false);
  assert.deepEqual(updated.client, {
    id: carol.id,
    name: 'carol-laptop',
    permissions: ['download'],
    root: 'carol',
    addedAt: '2024-05-01T12:00:00.000Z',
  });
  const cleared = await allowClient(home, carol.id, {
    name: null,
    root: null,
    permissions: ['upload', 'download'],
  });
  assert.deepEqual(cleared.client, {
    id: carol.id,
    permissions: ['upload', 'download'],
    addedAt: '2024-05-01T12:00:00.000Z',
  });
  assert.equal((await listAllowedClients(home)).length, 1);
});

test('`allowClient` rejects bad arguments before touching the file', async (t) => {
  const home = await tempHome(t);
  const { id } = newClient();
  await assert.rejects(allowClient(home, 'not-an-id'), (err) => isFerryError(err, 'ID_INVALID'));
  await assert.rejects(allowClient(home, id, { permissions: [] }), (err) =>
    isFerryError(err, 'USAGE_INVALID'),
  );
  for (const root of ['/etc', '../up', 'a/../b', 'a//b', 'a\\b', '.', '']) {
    await assert.rejects(allowClient(home, id, { root }), (err) => isFerryError(err, 'USAGE_INVALID'), root);
  }
  await assert.rejects(allowClient(home, id, { name: 'evil\u001b[2J' }), (err) =>
    isFerryError(err, 'USAGE_INVALID'),
  );
  assert.deepEqual(await readdir(home), []);
});

test('`allowClient` writes the file with mode 0600 and leaves no temp file', { skip: !POSIX }, async (t) => {
  const home = await tempHome(t);
  await allowClient(home, newClient().id);
  await allowClient(home, newClient().id);
  assert.equal((await stat(allowListPath(home))).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(home), ['allowed-clients.json']);
});

test('`loadAllowListIfChanged` returns the same snapshot until the file changes', async (t) => {
  const home = await tempHome(t);
  const dave = newClient();
  const erin = newClient();
  await allowClient(home, dave.id);
  const first = await AllowList.load(home);
  assert.equal(await loadAllowListIfChanged(home, first), first);
  await allowClient(home, erin.id);
  const second = await loadAllowListIfChanged(home, first);
  assert.notEqual(second, first);
  assert.ok(second.find(erin.publicKey));
  await revokeClient(home, dave.id);
  const third = await loadAllowListIfChanged(home, second);
  assert.equal(third.find(dave.publicKey), undefined);
  await rm(allowListPath(home));
  assert.equal((await loadAllowListIfChanged(home, third)).clients.length, 0);
});

test('`AllowListWatcher` sees `allowClient` without a restart, and checks at most once per interval', async (t) => {
  const home = await tempHome(t);
  let now = 0;
  const watcher = new AllowListWatcher(home, { minCheckIntervalMs: 1000, now: () => now });
  const frank = newClient();
  assert.equal((await watcher.current()).find(frank.publicKey), undefined);
  await allowClient(home, frank.id);
  now = 999;
  assert.equal((await watcher.current()).find(frank.publicKey), undefined);
  now = 1000;
  assert.ok((await watcher.current()).find(frank.publicKey));
});

test('`AllowListWatcher` fails closed on a broken file, and recovers once it is fixed', async (t) => {
  const home = await tempHome(t);
  const watcher = new AllowListWatcher(home);
  const grace = newClient();
  await allowClient(home, grace.id);
  assert.ok((await watcher.current()).find(grace.publicKey));
  const good = await readFile(allowListPath(home), 'utf8');
  await writeFile(allowListPath(home), good.replace('"clients"', '"client"'));
  await assert.rejects(watcher.current(), configError(/unknown key "client"/));
  await writeFile(allowListPath(home), `${good}\n`);
  assert.ok((await watcher.current()).find(grace.publicKey));
});

test('`AllowList.load` validates a hand-broken file strictly and says where', async (t) => {
  const home = await tempHome(t);
  const { id } = newClient();
  const entry = { id, permissions: ['upload'], addedAt: '2024-05-01T12:00:00.000Z' };
  const cases: [unknown, RegExp][] = [
    [[], /expected an object/],
    [{ version: 2, clients: [] }, /version must be 1/],
    [{ version: 1, clients: {} }, /clients must be an array/],
    [
      { version: 1, clients: [{ ...entry, permisions: ['upload'] }] },
      /clients\[0\] has unknown key "permisions"/,
    ],
    [
      { version: 1, clients: [{ ...entry, id: id.slice(0, -1) }] },
      /clients\[0\]\.id: .*expected 54 characters/,
    ],
    [
      { version: 1, clients: [{ ...entry, permissions: ['upload', 'delete'] }] },
      /clients\[0\]\.permissions has unknown permission "delete"/,
    ],
    [{ version: 1, clients: [{ ...entry, permissions: [] }] }, /clients\[0\]\.permissions must not be empty/],
    [{ version: 1, clients: [{ ...entry, root: '../etc' }] }, /clients\[0\]\.root/],
    [{ version: 1, clients: [{ ...entry, addedAt: 'yesterday' }] }, /clients\[0\]\.addedAt/],
    [{ version: 1, clients: [{ ...entry, name: 7 }] }, /clients\[0\]\.name must be a string/],
    [
      { version: 1, clients: [entry, { ...entry, id: id.toUpperCase() }] },
      /clients\[1\]\.id is the same key as clients\[0\]/,
    ],
  ];
  for (const [json, pattern] of cases) {
    await writeFile(allowListPath(home), JSON.stringify(json), { mode: 0o600 });
    await assert.rejects(AllowList.load(home), configError(pattern), pattern.source);
  }
  await writeFile(allowListPath(home), '{"version": 1, "clients": [', { mode: 0o600 });
  await assert.rejects(AllowList.load(home), configError(/not valid JSON/));
});

test('`AllowList.load` refuses a file writable by group or others', { skip: !POSIX }, async (t) => {
  const home = await tempHome(t);
  await allowClient(home, newClient().id);
  await chmod(allowListPath(home), 0o666);
  await assert.rejects(AllowList.load(home), configError(/writable by group or others/));
});

test('`AllowList.fromClients` validates entries like the file', () => {
  const henry = newClient();
  const list = AllowList.fromClients([
    { id: henry.id, permissions: ['download'], addedAt: '2024-05-01T12:00:00.000Z' },
  ]);
  assert.deepEqual(list.find(henry.publicKey)?.permissions, ['download']);
  assert.throws(
    () => AllowList.fromClients([{ id: henry.id, permissions: [], addedAt: '2024-05-01T12:00:00.000Z' }]),
    configError(/must not be empty/),
  );
});
