// The cluster's shared admission through the CLI (docs/ARCHITECTURE.md, "Admission in a cluster"): two
// `ferry serve --coordination etcd://...` processes sharing one home (one identity) and one real etcd 3.4;
// `ferry invite / allow / revoke / clients --coordination` change and read the list in etcd, whichever
// server the client then reaches. Every wait is on a process's output or exit, never on a timer.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClientSession, listRemote } from '../../src/client/index.js';
import { loadIdentity } from '../../src/home/index.js';
import {
  assertExit,
  jsonLinesOf,
  runFerry,
  serverLogged,
  startServe,
  type ServeProcess,
} from '../helpers/cli.js';
import { useEtcdNode } from '../helpers/etcd-node.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const etcd = useEtcdNode();

interface Cluster {
  dir: string;
  serverHome: string;
  serverId: string;
  coordination: string;
  a: ServeProcess;
  b: ServeProcess;
  rootA: string;
  rootB: string;
}

/** Two servers on one home and a fresh etcd prefix, stopped after the test. */
async function startCluster(t: TestContext): Promise<Cluster> {
  const dir = await makeTempDir('ferry-e2e-cluster-admission-');
  const serverHome = join(dir, 'server-home');
  const keygen = await runFerry(['--home', serverHome, 'keygen']);
  assertExit(keygen, 0, 'server keygen');
  const coordination = `etcd://${new URL(etcd().endpoint).host}/t-${randomBytes(4).toString('hex')}`;
  const started: ServeProcess[] = [];
  t.after(async () => {
    for (const serve of started) await serve.stop();
    await removeTempDir(dir);
  });
  const [rootA, rootB] = [join(dir, 'root-a'), join(dir, 'root-b')];
  for (const root of [rootA, rootB])
    started.push(await startServe(['--home', serverHome, '--root', root, '--coordination', coordination]));
  return {
    dir,
    serverHome,
    serverId: keygen.stdout.trim(),
    coordination,
    a: started[0]!,
    b: started[1]!,
    rootA,
    rootB,
  };
}

/** A client home with an identity; its ferry ID. */
async function clientHome(dir: string, name: string): Promise<{ home: string; id: string }> {
  const home = join(dir, name);
  const keygen = await runFerry(['--home', home, 'keygen']);
  assertExit(keygen, 0, 'client keygen');
  return { home, id: keygen.stdout.trim() };
}

const CHANGED = /"event":"allow-list-changed"/;

test('ferry invite --coordination, pair through server A, send through server B', async (t) => {
  const c = await startCluster(t);
  const client = await clientHome(c.dir, 'client');
  const made = await runFerry([
    '--home',
    c.serverHome,
    'invite',
    '--coordination',
    c.coordination,
    '--name',
    'laptop',
    '--json',
  ]);
  assertExit(made, 0, 'invite --coordination');
  const { code, id } = JSON.parse(made.stdout) as { code: string; id: string };
  const listed = await runFerry(['invites', '--coordination', c.coordination]);
  assertExit(listed, 0, 'invites --coordination');
  assert.match(listed.stdout, new RegExp(`^${id}  expires .*  upload,download  laptop$`, 'm'));
  assert.ok(!listed.stdout.includes(code.slice(4)), 'the listing never shows a code');

  const codeFile = join(c.dir, 'code.txt');
  await writeFile(codeFile, `${code}\n`, { mode: 0o600 });
  const paired = await runFerry(['--home', client.home, 'pair', c.a.address, '--code-file', codeFile]);
  assertExit(paired, 0, 'pair through A');
  assert.equal(paired.stdout, `${c.serverId}\n`);
  const clients = await runFerry(['clients', '--coordination', c.coordination, '--json']);
  assertExit(clients, 0, 'clients --coordination');
  assert.deepEqual(
    jsonLinesOf<{ id: string; name?: string }>(clients.stdout).map(({ id, name }) => ({ id, name })),
    [{ id: client.id, name: 'laptop' }],
  );
  // B admits from its watched copy of the list: it logs when its watch delivered the change.
  await serverLogged(c.b, CHANGED);
  const source = join(c.dir, 'hello.txt');
  await writeFile(source, 'paired on A, sent through B\n');
  const sent = await runFerry(['--home', client.home, 'send', source, c.b.address, '--expect', c.serverId]);
  assertExit(sent, 0, 'send through B');
  assert.equal(await readFile(join(c.rootB, 'hello.txt'), 'utf8'), 'paired on A, sent through B\n');
  assert.ok(!c.a.stderr.includes(code) && !c.b.stderr.includes(code), 'no server logs the code');
});

test('ferry allow --coordination from two processes racing: both kept; each admits on either server', async (t) => {
  const c = await startCluster(t);
  const clients = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((name) => clientHome(c.dir, name)));
  const allowed = await Promise.all(
    clients.map((client, i) =>
      runFerry(['allow', client.id, '--name', `c${i + 1}`, '--coordination', c.coordination]),
    ),
  );
  for (const result of allowed) assertExit(result, 0, 'allow --coordination');
  const listed = await runFerry(['clients', '--coordination', c.coordination, '--json']);
  assertExit(listed, 0, 'clients --coordination');
  const ids = jsonLinesOf<{ id: string }>(listed.stdout)
    .map(({ id }) => id)
    .sort();
  assert.deepEqual(ids, clients.map(({ id }) => id).sort(), 'every concurrent allow landed');
  // Each server logs the list's size at every change it hears; the last is the full list.
  await serverLogged(c.a, /"event":"allow-list-changed","clients":4/);
  await serverLogged(c.b, /"event":"allow-list-changed","clients":4/);
  const source = join(c.dir, 'f.txt');
  await writeFile(source, 'allowed through the CLI\n');
  for (const [server, root] of [
    [c.a, c.rootA],
    [c.b, c.rootB],
  ] as const) {
    const sent = await runFerry([
      '--home',
      clients[0]!.home,
      'send',
      source,
      server.address,
      '--expect',
      c.serverId,
    ]);
    assertExit(sent, 0, `send to ${server.address}`);
    assert.equal(await readFile(join(root, 'f.txt'), 'utf8'), 'allowed through the CLI\n');
  }
});

test('ferry revoke --coordination: server A ends the live session (CLIENT_NOT_ALLOWED) and refuses the next', async (t) => {
  const c = await startCluster(t);
  const client = await clientHome(c.dir, 'client');
  assertExit(await runFerry(['allow', client.id, '--coordination', c.coordination]), 0, 'allow');
  await serverLogged(c.a, CHANGED);
  const colon = c.a.address.lastIndexOf(':');
  const live = await ClientSession.connect(
    { host: c.a.address.slice(0, colon), port: Number(c.a.address.slice(colon + 1)) },
    { identity: await loadIdentity(client.home), verifyServer: () => undefined },
  );
  t.after(() => live.close());
  await live.welcome;
  await listRemote(live, '', { recursive: false });

  const revoked = await runFerry(['revoke', client.id, '--coordination', c.coordination]);
  assertExit(revoked, 0, 'revoke --coordination');
  await serverLogged(c.a, /"event":"sessions-revoked".*"sessions":1/);
  await assert.rejects(listRemote(live, '', { recursive: false }), { code: 'CLIENT_NOT_ALLOWED' });
  const source = join(c.dir, 'late.txt');
  await writeFile(source, 'too late\n');
  const refused = await runFerry([
    '--home',
    client.home,
    'send',
    source,
    c.a.address,
    '--expect',
    c.serverId,
  ]);
  assertExit(refused, 4, 'send after the revoke (CLIENT_NOT_ALLOWED)');
  // The cluster's refusal names the cluster's command: `ferry allow` in a home is read by no server here.
  assert.match(
    refused.stderr,
    new RegExp(
      `^ferry: CLIENT_NOT_ALLOWED: .*not on the cluster allow-list.*\\(from the server\\); this client is ${client.id}; run \`ferry allow ${client.id} --coordination etcd://HOST:PORT/PREFIX\``,
    ),
  );
  assert.doesNotMatch(refused.stderr, /in the home whose/);
  const again = await runFerry(['revoke', client.id, '--coordination', c.coordination]);
  assertExit(again, 2, 'revoking a key not on the list');
});

test('etcd stopped: sends fail closed with SERVER_BUSY, logged once by the server; they work once etcd is back', async (t) => {
  const c = await startCluster(t);
  const node = etcd();
  t.after(() => node.resume());
  const client = await clientHome(c.dir, 'client');
  assertExit(await runFerry(['allow', client.id, '--coordination', c.coordination]), 0, 'allow');
  await serverLogged(c.a, CHANGED);
  const source = join(c.dir, 'f.txt');
  await writeFile(source, 'after the outage\n');
  const send = (): ReturnType<typeof runFerry> =>
    runFerry(['--home', client.home, 'send', source, c.a.address, '--expect', c.serverId, '--retries', '0']);

  await node.pause();
  await serverLogged(c.a, /"event":"admission-unavailable"/);
  for (let i = 0; i < 2; i++) {
    const refused = await send();
    assertExit(refused, 5, 'send while etcd is down (SERVER_BUSY)');
    assert.match(refused.stderr, /SERVER_BUSY/, 'the client reads the coded refusal, not a reset');
  }
  assert.equal(
    c.a.stderr.split('\n').filter((line) => line.includes('"event":"admission-unavailable"')).length,
    1,
    'the outage is logged once, not per refused connection',
  );
  const allowOffline = await runFerry(['allow', client.id, '--coordination', c.coordination]);
  assertExit(allowOffline, 5, 'allow --coordination with etcd down');

  await node.resume();
  await serverLogged(c.a, /"event":"admission-available"/);
  assertExit(await send(), 0, 'send once etcd is back');
  assert.equal(await readFile(join(c.rootA, 'f.txt'), 'utf8'), 'after the outage\n');
});
