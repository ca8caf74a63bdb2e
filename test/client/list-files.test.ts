// `listFiles`, the library's `ferry ls`: a real server on loopback, a real root, and a fault proxy to reset
// the first connection before the listing ends.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { listFiles, type ConnectOptions, type SessionEvent } from '../../src/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

async function startRig(t: TestContext): Promise<{ server: FerryServer; connect: ConnectOptions }> {
  const { server } = await startTempDirServer(t, 'ferry-list-files-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
  });
  await mkdir(join(server.root, 'docs', 'deep'), { recursive: true });
  await writeFile(join(server.root, 'docs', 'a.txt'), 'alpha');
  await writeFile(join(server.root, 'docs', 'deep', 'b.txt'), 'bravo!');
  const connect: ConnectOptions = {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 2, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { server, connect };
}

test('`listFiles` lists a remote directory, recursively when asked, with the listed path itself', async (t) => {
  const { connect } = await startRig(t);
  const flat = await listFiles({ ...connect, remotePath: 'docs' });
  assert.deepEqual(
    flat.entries.map((e) => [e.kind, e.path, e.size]),
    [
      ['file', 'a.txt', 5],
      ['dir', 'deep', 0],
    ],
  );
  assert.equal(flat.isFile, false);
  const tree = await listFiles({ ...connect, remotePath: 'docs', recursive: true });
  assert.deepEqual(
    tree.entries.map((e) => e.path),
    ['a.txt', 'deep', 'deep/b.txt'],
  );
});

test('`listFiles` lists again on a new session when the first connection is reset before LIST_END', async (t) => {
  const { server, connect } = await startRig(t);
  // A clean listing through the proxy tells how many bytes the server sends for it; the next connection is
  // then reset one byte before its end, inside LIST_END.
  let cutAt = 0;
  const proxy = await FaultProxy.start({
    target: server.address,
    plan: (index) => (index === 1 ? { cut: { afterBytes: cutAt, direction: 'serverToClient' } } : undefined),
  });
  t.after(() => proxy.close());
  const viaProxy = { ...connect, server: proxy.address };
  const clean = await listFiles({ ...viaProxy, remotePath: 'docs', recursive: true });
  await proxy.connections[0]!.closed;
  cutAt = proxy.connections[0]!.bytes.serverToClient - 1;

  const events: SessionEvent[] = [];
  const listed = await listFiles({
    ...viaProxy,
    remotePath: 'docs',
    recursive: true,
    onEvent: (event) => events.push(event),
  });
  assert.deepEqual(listed, clean);
  assert.equal(proxy.connections.length, 3, 'the reset connection, then one more');
  assert.deepEqual(
    events.map((e) => e.type),
    ['session-opened', 'retrying', 'session-opened'],
  );
});

test('`listFiles` refuses a bad remote path before connecting, and names a missing one in its error', async (t) => {
  const { server, connect } = await startRig(t);
  const proxy = await FaultProxy.start({ target: server.address });
  t.after(() => proxy.close());
  const viaProxy = { ...connect, server: proxy.address };
  await assert.rejects(listFiles({ ...viaProxy, remotePath: '../up' }), (err) =>
    isFerryError(err, 'PATH_INVALID'),
  );
  assert.equal(proxy.connections.length, 0, 'no connection for a path the protocol forbids');
  await assert.rejects(
    listFiles({ ...viaProxy, remotePath: 'docs/missing' }),
    (err) => isFerryError(err, 'PATH_NOT_FOUND') && err.message.includes('/docs/missing'),
  );
});
