// Admission in a cluster (docs/ARCHITECTURE.md, "Admission in a cluster"): two real FerryServers sharing
// one identity and one real etcd 3.4, each admitting through its own ClusterAdmission. A client paired
// through A sends through B; a key revoked through B is refused by A and its live session on A ends; an
// invite is redeemed once across servers; with etcd stopped admission fails closed (SERVER_BUSY, logged
// once) and comes back with etcd. Every wait is on an event or a log line.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { formatFerryId, generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { toFerryError } from '../../src/errors/index.js';
import { ClusterAdmission, EtcdGateway, FerryServer, type ServerEvent } from '../../src/server/index.js';
import { ClientSession, listRemote, pairWithServer, sendFiles } from '../../src/client/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { SwitchProxy } from '../helpers/switch-proxy.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { useEtcdNode } from '../helpers/etcd-node.js';

const etcd = useEtcdNode();

type LogLine = Record<string, unknown>;

/** A logger keeping its lines, with a wait on the first line (past or future) a predicate accepts. */
function capturedLog(): {
  logger: Logger;
  lines: LogLine[];
  waitFor: (match: (line: LogLine) => boolean) => Promise<LogLine>;
} {
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string): void {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const waiter of [...waiters])
          if (waiter.match(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
      },
    },
  );
  return {
    logger,
    lines,
    waitFor: (match) => {
      const seen = lines.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

interface ClusterServer {
  server: FerryServer;
  admission: ClusterAdmission;
  log: ReturnType<typeof capturedLog>;
  root: string;
}

/** Two servers (A, B) with one identity and one home, admitting through etcd under a fresh prefix. */
async function cluster(
  t: TestContext,
  options: { endpointOfA?: string } = {},
): Promise<{
  a: ClusterServer;
  b: ClusterServer;
  identity: KeyPair;
  /** What `ferry allow / revoke / invite --coordination` use: the same etcd and prefix, no server. */
  operator: ClusterAdmission;
  dir: string;
}> {
  const dir = await makeTempDir('ferry-cluster-admission-');
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  const identity = generateKeyPair();
  const home = join(dir, 'home');
  const started: ClusterServer[] = [];
  const operator = new ClusterAdmission(new EtcdGateway(etcd().endpoint), prefix);
  t.after(async () => {
    for (const { server, admission } of started) {
      await server.close();
      admission.close();
    }
    operator.close();
    await removeTempDir(dir);
  });
  for (const name of ['a', 'b']) {
    const endpoint = name === 'a' ? (options.endpointOfA ?? etcd().endpoint) : etcd().endpoint;
    // A short resync interval (injected) so a test does not wait a second for a server to read etcd again.
    const admission = new ClusterAdmission(new EtcdGateway(endpoint), prefix, {
      resyncIntervalMs: 50,
    });
    const log = capturedLog();
    const root = join(dir, `root-${name}`);
    const server = await FerryServer.start({
      root,
      port: 0,
      identity,
      home,
      authorize: admission.authorize,
      pairing: { homeDir: home, stores: admission.pairingStores },
      logger: log.logger,
      partialSweepIntervalMs: 0,
    });
    admission.attach(server, log.logger);
    started.push({ server, admission, log, root });
  }
  return { a: started[0]!, b: started[1]!, identity, operator, dir };
}

/** A normal session, admitted (WELCOME read), or the coded error that refused it. */
async function admitted(at: ClusterServer, client: KeyPair, serverKey: Buffer): Promise<ClientSession> {
  const session = await ClientSession.connect(at.server.address, {
    identity: client,
    verifyServer: (key) => assert.ok(key.equals(serverKey)),
  });
  try {
    await session.welcome;
  } catch (err) {
    session.close();
    throw err;
  }
  return session;
}

/** Resolves once the server's watched copy of the list has (or lacks) `key`: waits on its watch events. */
function untilListed(at: ClusterServer, key: Buffer, listed = true): Promise<void> {
  const list = at.admission.allowList;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      list.current().then((current) => {
        if ((current.find(key) !== undefined) === listed) resolve();
        else list.events.once('change', check);
      }, reject);
    };
    check();
  });
}

/** Resolves once `server` reported an admitted session closed with `result`. */
function sessionClosed(at: ClusterServer, result: string): Promise<ServerEvent> {
  return new Promise((resolve) => {
    const listener = (event: ServerEvent): void => {
      if (event.type === 'session-closed' && event.result === result) {
        at.server.events.off('event', listener);
        resolve(event);
      }
    };
    at.server.events.on('event', listener);
  });
}

test('a client paired through server A (invite made by the operator in etcd) sends through server B', async (t) => {
  const { a, b, identity, operator, dir } = await cluster(t);
  const client = generateKeyPair();
  const { code } = await operator.invites.create({ name: 'laptop', permissions: ['upload'] });
  const paired = await pairWithServer({
    server: a.server.address,
    identity: client,
    code,
    verifyServer: () => undefined,
    onPaired: () => undefined,
  });
  assert.ok(paired.serverPublicKey.equals(identity.publicKey));
  const listed = (await operator.allowList.read()).find(client.publicKey);
  assert.equal(listed?.name, 'laptop', 'the pairing allowed the client in etcd, with the invite name');
  assert.deepEqual(await operator.invites.list(), [], 'the invite is used up');

  const source = join(dir, 'hello.txt');
  await writeFile(source, 'paired on A, sent through B\n');
  await sendFiles({
    server: b.server.address,
    files: [source],
    identity: client,
    verifyServer: (key: Buffer) => assert.ok(key.equals(identity.publicKey)),
  });
  assert.equal(await readFile(join(b.root, 'hello.txt'), 'utf8'), 'paired on A, sent through B\n');
});

test('one invite redeemed through A and B at once: exactly one pairing succeeds', async (t) => {
  const { a, b, operator } = await cluster(t);
  const { code } = await operator.invites.create({ permissions: ['upload'] });
  const clients = [generateKeyPair(), generateKeyPair()];
  const outcomes = await Promise.allSettled(
    [a, b].map((at, i) =>
      pairWithServer({
        server: at.server.address,
        identity: clients[i]!,
        code,
        verifyServer: () => undefined,
        onPaired: () => undefined,
      }),
    ),
  );
  const won = outcomes.filter((o) => o.status === 'fulfilled');
  const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  assert.equal(won.length, 1, 'one server took the invite');
  assert.equal(lost.length, 1);
  assert.equal(toFerryError(lost[0]!.reason).code, 'PAIRING_FAILED', 'the other found it used');
  const list = await operator.allowList.read();
  assert.equal(list.clients.length, 1, 'one client allowed, not two');
});

test('allowed through A admits on B; revoked through B: A refuses new sessions and ends the live one', async (t) => {
  const { a, b, identity } = await cluster(t);
  const client = generateKeyPair();
  const id = formatFerryId(client.publicKey);
  await assert.rejects(admitted(b, client, identity.publicKey), { code: 'CLIENT_NOT_ALLOWED' });

  await a.admission.allowList.allow(id, { permissions: ['upload', 'download'] });
  // B admits from its watched copy: wait on its watch, not on a timer.
  await untilListed(b, client.publicKey);
  const onB = await admitted(b, client, identity.publicKey);
  onB.close();
  await untilListed(a, client.publicKey);
  const live = await admitted(a, client, identity.publicKey);
  t.after(() => live.close());
  assert.ok((await listRemote(live, '', { recursive: false })) !== undefined, 'the live session works on A');

  const endedOnA = sessionClosed(a, 'CLIENT_NOT_ALLOWED');
  assert.equal(await b.admission.allowList.revoke(id), true);
  await endedOnA;
  const logged = await a.log.waitFor((line) => line['event'] === 'sessions-revoked');
  assert.equal(logged['sessions'], 1);
  assert.equal(logged['code'], 'CLIENT_NOT_ALLOWED');
  await assert.rejects(listRemote(live, '', { recursive: false }), { code: 'CLIENT_NOT_ALLOWED' });
  await assert.rejects(admitted(a, client, identity.publicKey), { code: 'CLIENT_NOT_ALLOWED' });
});

test('allows through A and B at the same moment are both kept (compare-and-swap)', async (t) => {
  const { a, b, operator } = await cluster(t);
  const keys = Array.from({ length: 8 }, () => generateKeyPair().publicKey);
  await Promise.all(
    keys.map((key, i) =>
      (i % 2 === 0 ? a : b).admission.allowList.allow(formatFerryId(key), { name: `c${i}` }),
    ),
  );
  const list = await operator.allowList.read();
  assert.equal(list.clients.length, keys.length);
  for (const [i, key] of keys.entries()) assert.equal(list.find(key)?.name, `c${i}`);
});

test('etcd stopped: admission fails closed with SERVER_BUSY, logged once; after etcd returns it admits again', async (t) => {
  const { a, identity, operator } = await cluster(t);
  const node = etcd();
  t.after(() => node.resume());
  const client = generateKeyPair();
  await operator.allowList.allow(formatFerryId(client.publicKey));
  await untilListed(a, client.publicKey);
  (await admitted(a, client, identity.publicKey)).close();

  await node.pause();
  await a.log.waitFor((line) => line['event'] === 'admission-unavailable');
  for (let i = 0; i < 3; i++)
    await assert.rejects(admitted(a, client, identity.publicKey), { code: 'SERVER_BUSY' });
  assert.equal(
    a.log.lines.filter((line) => line['event'] === 'admission-unavailable').length,
    1,
    'the outage is logged once, not per refused connection',
  );
  const unavailable = a.log.lines.find((line) => line['event'] === 'admission-unavailable')!;
  assert.equal(unavailable['code'], 'SERVER_BUSY');

  await node.resume();
  await a.log.waitFor((line) => line['event'] === 'admission-available');
  const back = await admitted(a, client, identity.publicKey);
  back.close();
});

test('a server cut off from etcd keeps the sessions it admitted, admits none, and ends those revoked meanwhile once it hears etcd again', async (t) => {
  const url = new URL(etcd().endpoint);
  // A forwarder to etcd that can cut server A off while B still reaches it.
  const partition = await SwitchProxy.start([{ host: url.hostname, port: Number(url.port) }]);
  t.after(() => partition.close());
  const { a, identity, operator } = await cluster(t, {
    endpointOfA: `http://127.0.0.1:${partition.address.port}`,
  });
  const client = generateKeyPair();
  const id = formatFerryId(client.publicKey);
  await operator.allowList.allow(id);
  await untilListed(a, client.publicKey);
  const live = await admitted(a, client, identity.publicKey);
  t.after(() => live.close());

  partition.cut();
  await a.log.waitFor((line) => line['event'] === 'admission-unavailable');
  await assert.rejects(admitted(a, client, identity.publicKey), { code: 'SERVER_BUSY' });
  // Revoked while A cannot hear it: A cannot know yet, and keeps the session it admitted.
  assert.equal(await operator.allowList.revoke(id), true);
  await listRemote(live, '', { recursive: false });

  const ended = sessionClosed(a, 'CLIENT_NOT_ALLOWED');
  partition.heal();
  await a.log.waitFor((line) => line['event'] === 'admission-available');
  await ended;
  await assert.rejects(listRemote(live, '', { recursive: false }), { code: 'CLIENT_NOT_ALLOWED' });
  await assert.rejects(admitted(a, client, identity.publicKey), { code: 'CLIENT_NOT_ALLOWED' });
});

test('revoked in the middle of an upload: the session ends with CLIENT_NOT_ALLOWED, the partial is kept', async (t) => {
  const { a, b, identity, operator, dir } = await cluster(t);
  const client = generateKeyPair();
  const id = formatFerryId(client.publicKey);
  await operator.allowList.allow(id);
  await untilListed(a, client.publicKey);
  const MIB = 1024 * 1024;
  // The client's bytes stop at 1 MiB (the server's replies still flow), so the upload is live when revoked.
  const proxy = await FaultProxy.start({
    target: a.server.address,
    plan: { stall: { afterBytes: MIB, direction: 'clientToServer', freeze: 'one' } },
  });
  t.after(() => proxy.close());
  const source = join(dir, 'big.bin');
  await writeRandomFile(source, 4 * MIB);
  const started = new Promise<void>((resolve) =>
    a.server.events.on('event', (event: ServerEvent) => {
      if (event.type === 'transfer-started') resolve();
    }),
  );
  const sending = sendFiles({
    server: proxy.address,
    files: [source],
    identity: client,
    verifyServer: (key: Buffer) => assert.ok(key.equals(identity.publicKey)),
  }).then(
    () => assert.fail('the upload finished although its key was revoked'),
    (err: unknown) => toFerryError(err),
  );
  await started;
  await proxy.connections[0]!.stalled;
  const ended = sessionClosed(a, 'CLIENT_NOT_ALLOWED');
  assert.equal(await b.admission.allowList.revoke(id), true, 'revoked through the other server');
  await ended;
  assert.equal((await sending).code, 'CLIENT_NOT_ALLOWED', 'the client is told why');
  const partials = await readdir(join(a.root, '.ferry', 'partial'));
  assert.ok(partials.length > 0, 'the partial is kept (a key allowed again resumes it)');
});
