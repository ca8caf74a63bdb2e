// End to end: replacing a file the other side holds moves only what changed, both ways: `ferry send
// --overwrite` (PROTOCOL.md §5.15) and `ferry get --overwrite` (§5.17). The real CLI and `ferry serve` as
// processes on loopback, the bytes counted at a proxy between them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import type { FaultProxy } from '../helpers/fault-proxy.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

const FILE_BYTES = 3 * 1024 * 1024 + 12_345;

let rig: ServeBehindProxy | undefined;
let dir: string;
let clientHome: string;
let serverId: string;
let root: string;
let proxy: FaultProxy | undefined;

// upload,download (the default grant): the client may read the path, so it gets the signature.
before(async () => {
  rig = await startServeBehindProxy('ferry-cli-delta-');
  ({ dir, clientHome, serverId, root, proxy } = rig);
});

after(() => rig?.close());

/** A random file and the same with 1 KiB inserted near the start (the rest shifts). */
function oldAndNext(): { old: Buffer; next: Buffer } {
  const old = randomBytes(FILE_BYTES);
  return { old, next: Buffer.concat([old.subarray(0, 5000), randomBytes(1024), old.subarray(5000)]) };
}

test('send --overwrite of a file with 1 KiB inserted near the start sends a small part of it, byte-exact', async () => {
  const { old, next } = oldAndNext();
  await writeFile(join(root, 'up.img'), old);
  const source = join(dir, 'up.img');
  await writeFile(source, next);
  const before = proxy!.totalBytes('clientToServer');
  const sent = await runFerry([
    '--home',
    clientHome,
    'send',
    source,
    `${proxy!.addressText}/up.img`,
    '--expect',
    serverId,
    '--overwrite',
    '--chunk-size',
    '256k',
  ]);
  assertExit(sent, 0, 'send --overwrite');
  assert.ok((await readFile(join(root, 'up.img'))).equals(next), 'byte-exact');
  const up = proxy!.totalBytes('clientToServer') - before;
  assert.ok(up < 96 * 1024, `${up} bytes client->server for a ${next.length}-byte file`);
});

test('get --overwrite of a file with 1 KiB inserted near the start receives a small part of it, byte-exact', async () => {
  const { old, next } = oldAndNext();
  await writeFile(join(root, 'down.img'), next);
  const local = join(dir, 'local');
  await mkdir(local);
  await writeFile(join(local, 'down.img'), old);
  const before = proxy!.totalBytes('serverToClient');
  const got = await runFerry([
    '--home',
    clientHome,
    'get',
    `${proxy!.addressText}/down.img`,
    local,
    '--expect',
    serverId,
    '--overwrite',
  ]);
  assertExit(got, 0, 'get --overwrite');
  assert.ok((await readFile(join(local, 'down.img'))).equals(next), 'byte-exact');
  // One leaf with the insertion, one new short last leaf, the signature (49 × 20 bytes) and the session.
  const down = proxy!.totalBytes('serverToClient') - before;
  assert.ok(down < 2 * 64 * 1024 + 8 * 1024, `${down} bytes server->client for a ${next.length}-byte file`);
});

test('send --overwrite --no-delta sends the whole file again, byte-exact', async () => {
  const { old, next } = oldAndNext();
  await writeFile(join(root, 'up-whole.img'), old);
  const source = join(dir, 'up-whole.img');
  await writeFile(source, next);
  const before = proxy!.totalBytes('clientToServer');
  const sent = await runFerry([
    '--home',
    clientHome,
    'send',
    source,
    `${proxy!.addressText}/up-whole.img`,
    '--expect',
    serverId,
    '--overwrite',
    '--no-delta',
  ]);
  assertExit(sent, 0, 'send --overwrite --no-delta');
  assert.ok((await readFile(join(root, 'up-whole.img'))).equals(next), 'byte-exact');
  const up = proxy!.totalBytes('clientToServer') - before;
  assert.ok(up >= next.length, `${up} bytes client->server: the whole ${next.length}-byte file`);
});

test('get --overwrite --no-delta receives the whole file again, byte-exact', async () => {
  const { old, next } = oldAndNext();
  await writeFile(join(root, 'down-whole.img'), next);
  const local = join(dir, 'local-whole');
  await mkdir(local);
  await writeFile(join(local, 'down-whole.img'), old);
  const before = proxy!.totalBytes('serverToClient');
  const got = await runFerry([
    '--home',
    clientHome,
    'get',
    `${proxy!.addressText}/down-whole.img`,
    local,
    '--expect',
    serverId,
    '--overwrite',
    '--no-delta',
  ]);
  assertExit(got, 0, 'get --overwrite --no-delta');
  assert.ok((await readFile(join(local, 'down-whole.img'))).equals(next), 'byte-exact');
  const down = proxy!.totalBytes('serverToClient') - before;
  assert.ok(down >= next.length, `${down} bytes server->client: the whole ${next.length}-byte file`);
});

test('sync --no-delta sends a changed file whole, and its help says so', async () => {
  const help = await runFerry(['sync', '--help']);
  assertExit(help, 0, 'sync --help');
  assert.match(help.stdout, /--no-delta\b/);
  const { old, next } = oldAndNext();
  await mkdir(join(root, 'mirror'));
  await writeFile(join(root, 'mirror', 'a.img'), old);
  const tree = join(dir, 'tree-whole');
  await mkdir(tree);
  await writeFile(join(tree, 'a.img'), next);
  const before = proxy!.totalBytes('clientToServer');
  const synced = await runFerry([
    '--home',
    clientHome,
    'sync',
    tree,
    `${proxy!.addressText}/mirror`,
    '--expect',
    serverId,
    '--no-delta',
  ]);
  assertExit(synced, 0, 'sync --no-delta');
  assert.ok((await readFile(join(root, 'mirror', 'a.img'))).equals(next), 'byte-exact');
  const up = proxy!.totalBytes('clientToServer') - before;
  assert.ok(up >= next.length, `${up} bytes client->server: the whole ${next.length}-byte file`);
});
