import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFerryId } from '../../src/crypto/ferry-id.js';
import { isFerryError } from '../../src/errors/index.js';
import {
  checkServerKey,
  knownServersPath,
  listKnownServers,
  lookupServer,
  normaliseServerAddress,
  parseServerAddress,
  pinServer,
} from '../../src/home/index.js';

const POSIX = process.platform !== 'win32';
const ADDRESS = 'files.example.com:7443';

async function tempHome(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-known-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function newServer(): { publicKey: Buffer; id: string } {
  const publicKey = randomBytes(32);
  return { publicKey, id: formatFerryId(publicKey) };
}

test('`normaliseServerAddress` gives one spelling per address', () => {
  assert.equal(normaliseServerAddress('Files.Example.COM', 7443), 'files.example.com:7443');
  assert.equal(normaliseServerAddress('files.example.com.', 7443), 'files.example.com:7443');
  assert.equal(normaliseServerAddress('::1', 7443), '[::1]:7443');
  assert.equal(normaliseServerAddress('[0:0:0:0:0:0:0:1]', 7443), '[::1]:7443');
  assert.equal(normaliseServerAddress('2001:DB8::A', 1), '[2001:db8::a]:1');
  assert.equal(normaliseServerAddress('127.0.0.1', 65535), '127.0.0.1:65535');
  for (const [host, port] of [
    ['', 1],
    ['a b', 1],
    ['user@host', 1],
    ['host/path', 1],
    ['fe80::1%eth0', 1],
    ['h', 0],
    ['h', 65536],
    ['h', 1.5],
  ] as const) {
    assert.throws(
      () => normaliseServerAddress(host, port),
      (err) => isFerryError(err, 'USAGE_INVALID'),
      `${host} ${port}`,
    );
  }
});

test('`parseServerAddress` reads HOST:PORT and [IPV6]:PORT, and refuses a bare IPv6 address', () => {
  assert.equal(parseServerAddress(' Files.Example.com:7443 '), ADDRESS);
  assert.equal(parseServerAddress('[::1]:7443'), '[::1]:7443');
  assert.equal(parseServerAddress('host', { defaultPort: 7443 }), 'host:7443');
  assert.equal(parseServerAddress('[::1]', { defaultPort: 7443 }), '[::1]:7443');
  for (const text of ['::1:7443', 'host', 'host:', 'host:x', '[::1]x', '[::1', 'host:123456']) {
    assert.throws(
      () => parseServerAddress(text),
      (err) => isFerryError(err, 'USAGE_INVALID'),
      text,
    );
  }
});

test('`pinServer` and `lookupServer` round-trip under any spelling of the address', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  assert.equal(await lookupServer(home, ADDRESS), undefined);
  assert.deepEqual(
    await pinServer(home, { address: 'FILES.example.com:7443', id: server.id.toUpperCase() }),
    {
      previousId: undefined,
    },
  );
  assert.equal(await lookupServer(home, ADDRESS), server.id);
  assert.equal(await lookupServer(home, 'files.example.com.:7443'), server.id);
  assert.equal(await lookupServer(home, 'files.example.com:7444'), undefined);
  if (POSIX) assert.equal((await stat(knownServersPath(home))).mode & 0o777, 0o600);
  const replacement = newServer();
  assert.deepEqual(await pinServer(home, { address: ADDRESS, id: replacement.id }), {
    previousId: server.id,
  });
  assert.deepEqual(await listKnownServers(home), [{ address: ADDRESS, id: replacement.id }]);
});

test('`checkServerKey` accepts the pinned key without pinning again', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  await pinServer(home, { address: ADDRESS, id: server.id });
  assert.deepEqual(await checkServerKey(home, { address: ADDRESS, publicKey: server.publicKey }), {
    pinned: false,
    id: server.id,
  });
});

test('`checkServerKey` always refuses a changed key, even with acceptNew, confirm or a matching expect', async (t) => {
  const home = await tempHome(t);
  const pinned = newServer();
  const impostor = newServer();
  await pinServer(home, { address: ADDRESS, id: pinned.id });
  const options = [
    {},
    { acceptNew: true },
    { confirm: () => Promise.resolve(true) },
    { expectId: impostor.id },
  ];
  for (const opts of options) {
    await assert.rejects(
      checkServerKey(home, { address: ADDRESS, publicKey: impostor.publicKey }, opts),
      (err) =>
        isFerryError(err, 'SERVER_KEY_CHANGED') &&
        err.message.includes(pinned.id) &&
        err.message.includes(impostor.id) &&
        err.message.includes(knownServersPath(home)) &&
        /IDENTIFICATION HAS CHANGED/.test(err.message),
    );
  }
  assert.equal(await lookupServer(home, ADDRESS), pinned.id);
});

test('`checkServerKey` refuses a key that does not match --expect', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  const expected = newServer();
  await assert.rejects(
    checkServerKey(
      home,
      { address: ADDRESS, publicKey: server.publicKey },
      { expectId: expected.id, acceptNew: true },
    ),
    (err) => isFerryError(err, 'SERVER_KEY_CHANGED') && /does not match --expect/.test(err.message),
  );
  assert.equal(await lookupServer(home, ADDRESS), undefined);
});

test('`checkServerKey` pins an unknown key that matches --expect', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  const result = await checkServerKey(
    home,
    { address: ADDRESS, publicKey: server.publicKey },
    { expectId: server.id },
  );
  assert.equal(result.pinned, true);
  assert.equal(await lookupServer(home, ADDRESS), server.id);
});

test('`checkServerKey` refuses an unknown key without acceptNew or confirm, and says how to trust it', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  await assert.rejects(
    checkServerKey(home, { address: ADDRESS, publicKey: server.publicKey }),
    (err) =>
      isFerryError(err, 'SERVER_KEY_UNKNOWN') &&
      err.message.includes(`ferry trust ${ADDRESS} ${server.id}`) &&
      err.message.includes('--accept-new') &&
      err.message.includes('--expect'),
  );
  await assert.rejects(
    checkServerKey(
      home,
      { address: ADDRESS, publicKey: server.publicKey },
      { confirm: () => Promise.resolve(false) },
    ),
    (err) => isFerryError(err, 'SERVER_KEY_UNKNOWN') && /not accepted/.test(err.message),
  );
  assert.equal(await lookupServer(home, ADDRESS), undefined);
});

test('`checkServerKey` pins an unknown key with acceptNew', async (t) => {
  const home = join(await tempHome(t), 'not-yet-created');
  const server = newServer();
  const result = await checkServerKey(
    home,
    { address: 'Files.Example.com:7443', publicKey: server.publicKey },
    { acceptNew: true },
  );
  assert.deepEqual(result, { pinned: true, id: server.id });
  assert.equal(await lookupServer(home, ADDRESS), server.id);
});

test('`checkServerKey` pins an unknown key when the confirm callback says yes', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  const asked: [string, string][] = [];
  const confirm = (address: string, id: string): Promise<boolean> => {
    asked.push([address, id]);
    return Promise.resolve(true);
  };
  const result = await checkServerKey(
    home,
    { address: '[0::1]:7443', publicKey: server.publicKey },
    { confirm },
  );
  assert.equal(result.pinned, true);
  assert.deepEqual(asked, [['[::1]:7443', server.id]]);
  assert.equal(await lookupServer(home, '[::1]:7443'), server.id);
  // Second contact: pinned and equal, nobody is asked again.
  assert.equal(
    (await checkServerKey(home, { address: '[::1]:7443', publicKey: server.publicKey }, { confirm })).pinned,
    false,
  );
  assert.equal(asked.length, 1);
});

test('`checkServerKey` refuses a key another process pinned differently while the user was asked', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  const other = newServer();
  const confirm = async (): Promise<boolean> => {
    await pinServer(home, { address: ADDRESS, id: other.id });
    return true;
  };
  await assert.rejects(
    checkServerKey(home, { address: ADDRESS, publicKey: server.publicKey }, { confirm }),
    (err) => isFerryError(err, 'SERVER_KEY_CHANGED'),
  );
  assert.equal(await lookupServer(home, ADDRESS), other.id);
});

test('known-servers.json is validated strictly, and hand-written spellings are normalised', async (t) => {
  const home = await tempHome(t);
  const server = newServer();
  const path = knownServersPath(home);
  await writeFile(
    path,
    JSON.stringify({ version: 1, servers: { 'Files.Example.COM:7443': server.id.toUpperCase() } }),
    { mode: 0o600 },
  );
  assert.equal(await lookupServer(home, ADDRESS), server.id);
  const cases: [unknown, RegExp][] = [
    [{ version: 1, servers: [] }, /servers must be an object/],
    [{ version: 1, servers: {}, extra: 1 }, /unknown key "extra"/],
    [{ version: 1, servers: { 'host:7443': 'nope' } }, /servers\["host:7443"\]: .*expected 54 characters/],
    [{ version: 1, servers: { host: server.id } }, /servers\["host"\]: .*missing port/],
    [{ version: 1, servers: { 'host:1': server.id, 'HOST:1': server.id } }, /another spelling of host:1/],
  ];
  for (const [json, pattern] of cases) {
    await writeFile(path, JSON.stringify(json), { mode: 0o600 });
    await assert.rejects(
      lookupServer(home, ADDRESS),
      (err) => isFerryError(err, 'CONFIG_INVALID') && pattern.test(err.message),
      pattern.source,
    );
  }
  // A write after a hand edit stores the normalised spelling.
  await writeFile(path, JSON.stringify({ version: 1, servers: { 'B.example:1': server.id } }), {
    mode: 0o600,
  });
  await pinServer(home, { address: 'a.example:1', id: server.id });
  assert.deepEqual(Object.keys(JSON.parse(await readFile(path, 'utf8')).servers), [
    'a.example:1',
    'b.example:1',
  ]);
});
