// End to end: `ferry get --overwrite` into a file the client holds receives only what changed (PROTOCOL.md
// §5.17): the real CLI and `ferry serve` as processes on loopback, the bytes counted at a proxy between them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const FILE_BYTES = 3 * 1024 * 1024 + 12_345;

let dir: string;
let server: ServeProcess | undefined;
let proxy: FaultProxy | undefined;

before(async () => {
  dir = await makeTempDir('ferry-cli-delta-get-');
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  await removeTempDir(dir);
});

test('get --overwrite of a file with 1 KiB inserted near the start receives a small part of it, byte-exact', async () => {
  const clientHome = join(dir, 'client-home');
  const serverHome = join(dir, 'server-home');
  const root = join(dir, 'root');
  const keygen = async (home: string): Promise<string> => {
    const result = await runFerry(['--home', home, 'keygen']);
    assertExit(result, 0, 'keygen');
    return result.stdout.trim();
  };
  const clientId = await keygen(clientHome);
  const serverId = await keygen(serverHome);
  assertExit(await runFerry(['--home', serverHome, 'allow', clientId]), 0, 'allow');
  await mkdir(root, { recursive: true });
  const old = randomBytes(FILE_BYTES);
  const next = Buffer.concat([old.subarray(0, 5000), randomBytes(1024), old.subarray(5000)]);
  await writeFile(join(root, 'disk.img'), next);
  const local = join(dir, 'local');
  await mkdir(local);
  await writeFile(join(local, 'disk.img'), old);
  server = await startServe(['--home', serverHome, '--root', root]);
  const colon = server.address.lastIndexOf(':');
  proxy = await FaultProxy.start({
    target: { host: server.address.slice(0, colon), port: Number(server.address.slice(colon + 1)) },
  });
  const got = await runFerry([
    '--home',
    clientHome,
    'get',
    `${proxy.addressText}/disk.img`,
    local,
    '--expect',
    serverId,
    '--overwrite',
  ]);
  assertExit(got, 0, 'get --overwrite');
  assert.ok((await readFile(join(local, 'disk.img'))).equals(next), 'byte-exact');
  // One leaf with the insertion, one new short last leaf, the signature (49 × 20 bytes) and the session.
  const down = proxy.totalBytes('serverToClient');
  assert.ok(down < 2 * 64 * 1024 + 8 * 1024, `${down} bytes server->client for a ${next.length}-byte file`);
});
