// End to end: `ferry send --overwrite` onto a file the server holds sends only what changed (PROTOCOL.md §5.15):
// the real CLI and `ferry serve` as processes on loopback, the bytes counted at a proxy between them.
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
  dir = await makeTempDir('ferry-cli-delta-');
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  await removeTempDir(dir);
});

test('send --overwrite of a file with 1 KiB inserted near the start sends a small part of it, byte-exact', async () => {
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
  // upload,download (the default grant): the client may read the path, so it gets the signature.
  assertExit(await runFerry(['--home', serverHome, 'allow', clientId]), 0, 'allow');
  await mkdir(root, { recursive: true });
  const old = randomBytes(FILE_BYTES);
  await writeFile(join(root, 'disk.img'), old);
  const next = Buffer.concat([old.subarray(0, 5000), randomBytes(1024), old.subarray(5000)]);
  const source = join(dir, 'disk.img');
  await writeFile(source, next);
  server = await startServe(['--home', serverHome, '--root', root]);
  const colon = server.address.lastIndexOf(':');
  proxy = await FaultProxy.start({
    target: { host: server.address.slice(0, colon), port: Number(server.address.slice(colon + 1)) },
  });
  const sent = await runFerry([
    '--home',
    clientHome,
    'send',
    source,
    `${proxy.addressText}/disk.img`,
    '--expect',
    serverId,
    '--overwrite',
    '--chunk-size',
    '256k',
  ]);
  assertExit(sent, 0, 'send --overwrite');
  assert.ok((await readFile(join(root, 'disk.img'))).equals(next), 'byte-exact');
  const up = proxy.totalBytes('clientToServer');
  assert.ok(up < 96 * 1024, `${up} bytes client->server for a ${next.length}-byte file`);
});
