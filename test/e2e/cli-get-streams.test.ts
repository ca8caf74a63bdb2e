// End to end: `ferry get --streams N` through the real CLI (compiled dist/) against `ferry serve`, as
// separate processes on loopback. The file is just over the 64 MiB threshold (PARALLEL_MIN_BYTES), so the
// CLI's own default threshold applies; the fault proxy counts the connections that carried it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { PARALLEL_MIN_BYTES } from '../../src/client/upload-file.js';

describe('ferry get --streams through the CLI', () => {
  let dir: string;
  let clientHome: string;
  let root: string;
  let serverId: string;
  let server: ServeProcess;
  let proxy: FaultProxy | undefined;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-get-streams-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'client keygen');
    const serverKey = await runFerry(['--home', serverHome, 'keygen']);
    assertExit(serverKey, 0, 'server keygen');
    serverId = serverKey.stdout.trim();
    assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
  });

  after(async () => {
    await proxy?.close();
    await server.stop();
    await removeTempDir(dir);
  });

  test('ferry get --streams 2 carries a file over the threshold on 2 connections and lands it verified', async () => {
    await mkdir(root, { recursive: true });
    const sha = await writeRandomFile(join(root, 'big.bin'), PARALLEL_MIN_BYTES + 123_457);
    const [host, port] = [
      server.address.slice(0, server.address.lastIndexOf(':')),
      server.address.slice(server.address.lastIndexOf(':') + 1),
    ];
    proxy = await FaultProxy.start({ target: { host: host, port: Number(port) } });
    const dest = join(dir, 'dest');
    const result = await runFerry([
      '--home',
      clientHome,
      'get',
      `${proxy.addressText}/big.bin`,
      `${dest}/`,
      '--mkdir',
      '--streams',
      '2',
      '--expect',
      serverId,
    ]);
    assertExit(result, 0, 'get --streams 2');
    assert.deepEqual(await readdir(dest), ['big.bin']);
    assert.equal(await sha256File(join(dest, 'big.bin')), sha);
    assert.equal(proxy.connections.length, 2, 'two connections');
    for (const connection of proxy.connections)
      assert.ok(
        connection.bytes.serverToClient > PARALLEL_MIN_BYTES / 4,
        `connection ${connection.index} carried data`,
      );
  });

  test('ferry get --streams outside 1 to 16 is refused as usage', async () => {
    const result = await runFerry([
      '--home',
      clientHome,
      'get',
      `${server.address}/big.bin`,
      dir,
      '--streams',
      '17',
      '--expect',
      serverId,
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /--streams takes 1 to 16, got 17/);
  });
});
