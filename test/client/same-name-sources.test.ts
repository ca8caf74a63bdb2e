// The library refuses two sources that would land under one name in the destination directory (getPaths,
// sendPaths), naming both, before it connects: the rule lives in src/client/distinct-source-names.ts, and
// the CLI calls the same check (test/e2e/cli-same-name-sources.test.ts). A proxy counts connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { getPaths, sendPaths, type ConnectOptions } from '../../src/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const BOTH = 'would both be stored as x in the destination';

test('`getPaths` and `sendPaths` refuse two sources of one name before connecting, naming both', async (t) => {
  const dir = await makeTempDir('ferry-same-name-');
  t.after(() => removeTempDir(dir));
  // Nothing listens behind it: a connection would be counted, then fail as CONNECT_FAILED.
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: 1 } });
  t.after(() => proxy.close());
  const connect: ConnectOptions = {
    server: proxy.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  };
  const server = `127.0.0.1:${proxy.address.port}`;
  await assert.rejects(
    getPaths({ ...connect, remotePaths: ['a/x', 'b/x'], localPath: dir }),
    (err) =>
      isFerryError(err, 'USAGE_INVALID') && err.message.includes(`${server}/a/x and ${server}/b/x ${BOTH}`),
  );
  for (const sub of ['d1', 'd2']) {
    await mkdir(join(dir, sub));
    await writeFile(join(dir, sub, 'x'), sub);
  }
  const [d1, d2] = [join(dir, 'd1', 'x'), join(dir, 'd2', 'x')];
  await assert.rejects(
    sendPaths({ ...connect, paths: [d1, d2], remotePath: 'both', remoteIsDirectory: true }),
    (err) => isFerryError(err, 'USAGE_INVALID') && err.message.includes(`${d1} and ${d2} ${BOTH}`),
  );
  assert.equal(proxy.connections.length, 0, 'refused before connecting');
});
