// `getPaths`, the library's `ferry get`: scp's placement decided on this machine before connecting, then
// getFiles. A real server on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { getPaths, type ConnectOptions } from '../../src/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

async function startRig(
  t: TestContext,
): Promise<{ dir: string; server: FerryServer; connect: ConnectOptions }> {
  const { dir, server } = await startTempDirServer(t, 'ferry-get-paths-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
  });
  await mkdir(server.root, { recursive: true });
  await writeFile(join(server.root, 'a.txt'), 'alpha');
  await writeFile(join(server.root, 'b.txt'), 'bravo');
  await mkdir(join(dir, 'local'));
  const connect: ConnectOptions = {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { dir, server, connect };
}

test('`getPaths` puts sources inside an existing local directory, or one source under a new name', async (t) => {
  const { dir, connect } = await startRig(t);
  const local = join(dir, 'local');
  await getPaths({ ...connect, remotePaths: ['a.txt', 'b.txt'], localPath: local });
  assert.deepEqual((await readdir(local)).sort(), ['a.txt', 'b.txt']);
  await getPaths({ ...connect, remotePaths: ['a.txt'], localPath: join(local, 'renamed.txt') });
  assert.equal(await readFile(join(local, 'renamed.txt'), 'utf8'), 'alpha');
});

test('`getPaths` refuses a missing local directory before connecting unless `mkdir`, which creates it', async (t) => {
  const { dir, server, connect } = await startRig(t);
  const proxy = await FaultProxy.start({ target: server.address });
  t.after(() => proxy.close());
  const viaProxy = { ...connect, server: proxy.address };
  const missing = join(dir, 'local', 'new', 'deeper');
  await assert.rejects(
    getPaths({ ...viaProxy, remotePaths: ['a.txt', 'b.txt'], localPath: missing }),
    (err) => isFerryError(err, 'PATH_NOT_FOUND') && err.message.includes('no such directory on this machine'),
  );
  assert.equal(proxy.connections.length, 0, 'placement is decided before connecting');
  await getPaths({ ...viaProxy, remotePaths: ['a.txt', 'b.txt'], localPath: missing, mkdir: true });
  assert.deepEqual((await readdir(missing)).sort(), ['a.txt', 'b.txt']);
});
