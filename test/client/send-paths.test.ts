// `sendPaths`, the library's `ferry send`: scp's placement decided on the server's side, files and trees in
// one run, and sources checked before any connection. A real server on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { sendPaths, type ConnectOptions } from '../../src/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

interface Rig {
  dir: string;
  server: FerryServer;
  connect: ConnectOptions;
}

async function startRig(t: TestContext): Promise<Rig> {
  const { dir, server } = await startTempDirServer(t, 'ferry-send-paths-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  await mkdir(join(dir, 'local', 'tree', 'sub'), { recursive: true });
  await writeFile(join(dir, 'local', 'one.txt'), 'one');
  await writeFile(join(dir, 'local', 'tree', 'sub', 'two.txt'), 'two');
  const connect: ConnectOptions = {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { dir, server, connect };
}

test('`sendPaths` puts files and trees inside an existing remote directory under their own names', async (t) => {
  const { dir, server, connect } = await startRig(t);
  await mkdir(join(server.root, 'inbox'));
  const results = await sendPaths({
    ...connect,
    paths: [join(dir, 'local', 'one.txt'), join(dir, 'local', 'tree')],
    remotePath: 'inbox',
    recursive: true,
  });
  assert.deepEqual(
    results.map((r) => r.kind),
    ['file', 'file', 'dir', 'dir'],
  );
  assert.equal(await readFile(join(server.root, 'inbox', 'one.txt'), 'utf8'), 'one');
  assert.equal(await readFile(join(server.root, 'inbox', 'tree', 'sub', 'two.txt'), 'utf8'), 'two');
});

test('`sendPaths` stores one source under a new remote name, and refuses a missing parent unless `mkdir`', async (t) => {
  const { dir, server, connect } = await startRig(t);
  const one = join(dir, 'local', 'one.txt');
  await sendPaths({ ...connect, paths: [one], remotePath: 'renamed.txt' });
  assert.equal(await readFile(join(server.root, 'renamed.txt'), 'utf8'), 'one');
  await assert.rejects(
    sendPaths({ ...connect, paths: [one], remotePath: 'new/dir', remoteIsDirectory: true }),
    (err) =>
      isFerryError(err, 'PATH_NOT_FOUND') &&
      err.statement.endsWith('/new/dir: no such directory on the server') &&
      err.hint === 'add --mkdir to create it',
  );
  await sendPaths({ ...connect, paths: [one], remotePath: 'new/dir', remoteIsDirectory: true, mkdir: true });
  assert.equal(await readFile(join(server.root, 'new', 'dir', 'one.txt'), 'utf8'), 'one');
});

test('`sendPaths` refuses a directory without `recursive`, a missing source and a bad remote path before connecting', async (t) => {
  const { dir, server, connect } = await startRig(t);
  const proxy = await FaultProxy.start({ target: server.address });
  t.after(() => proxy.close());
  const viaProxy = { ...connect, server: proxy.address };
  await assert.rejects(
    sendPaths({ ...viaProxy, paths: [join(dir, 'local', 'tree')], remotePath: '' }),
    (err) => isFerryError(err, 'USAGE_INVALID') && /add -r/.test(err.message),
  );
  await assert.rejects(
    sendPaths({ ...viaProxy, paths: [join(dir, 'local', 'nope.txt')], remotePath: '' }),
    (err) => isFerryError(err, 'PATH_NOT_FOUND') && err.message.includes('nope.txt'),
  );
  await assert.rejects(
    sendPaths({ ...viaProxy, paths: [join(dir, 'local', 'one.txt')], remotePath: 'a/../b' }),
    (err) => isFerryError(err, 'PATH_INVALID'),
  );
  assert.equal(proxy.connections.length, 0);
});

test('`sendPaths` walks a tree while the handshake is still pending (issue 14: the walk needs no server)', async (t) => {
  const { dir, connect } = await startRig(t);
  // A link leading out of the tree: the walk reports it through onSkip.
  await symlink('/', join(dir, 'local', 'tree', 'out'));
  // A peer that accepts and never answers: the handshake stays pending until the send is aborted.
  const silent = createServer((socket) => socket.on('error', () => undefined));
  const accepted = new Set<Socket>();
  silent.on('connection', (socket) => accepted.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of accepted) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as AddressInfo;
  const abort = new AbortController();
  let skipped!: (relative: string) => void;
  const skip = new Promise<string>((resolve) => (skipped = resolve));
  const sending = sendPaths({
    ...connect,
    server: { host: '127.0.0.1', port },
    signal: abort.signal,
    paths: [join(dir, 'local', 'tree')],
    remotePath: '',
    recursive: true,
    onSkip: (relative) => skipped(relative),
  });
  sending.catch(() => undefined);
  // Walked after the handshake (as before), onSkip would never come: the send would fail on its
  // handshake deadline instead, which this race turns into a failed assertion.
  const first = await Promise.race([
    skip,
    sending.then(
      () => 'sent',
      (err: unknown) => `failed first: ${String(err)}`,
    ),
  ]);
  assert.equal(first, join('tree', 'out'));
  assert.equal(accepted.size, 1, 'connected to the silent peer');
  abort.abort();
  await assert.rejects(sending);
});
