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

/**
 * `ferry send --overwrite FLAGS` of NAME (1 KiB inserted near the start) over the server's old copy: checked
 * byte-exact; the client->server bytes the proxy counted.
 */
async function sendReplacing(name: string, flags: string[]): Promise<{ up: number; size: number }> {
  const { old, next } = oldAndNext();
  await writeFile(join(root, name), old);
  const source = join(dir, name);
  await writeFile(source, next);
  const before = proxy!.totalBytes('clientToServer');
  const args = [
    'send',
    source,
    `${proxy!.addressText}/${name}`,
    '--expect',
    serverId,
    '--overwrite',
    ...flags,
  ];
  const run = await runFerry(['--home', clientHome, ...args]);
  assertExit(run, 0, args.join(' '));
  if (flags.includes('--quiet'))
    assert.equal(run.stdout + run.stderr, '', '--quiet prints nothing on success');
  assert.ok((await readFile(join(root, name))).equals(next), 'byte-exact');
  return { up: proxy!.totalBytes('clientToServer') - before, size: next.length };
}

/** The same for `ferry get --overwrite FLAGS` of NAME over a local old copy: the server->client bytes. */
async function getReplacing(name: string, flags: string[]): Promise<{ down: number; size: number }> {
  const { old, next } = oldAndNext();
  await writeFile(join(root, name), next);
  const local = join(dir, `local-${name}`);
  await mkdir(local);
  await writeFile(join(local, name), old);
  const before = proxy!.totalBytes('serverToClient');
  const args = ['get', `${proxy!.addressText}/${name}`, local, '--expect', serverId, '--overwrite', ...flags];
  assertExit(await runFerry(['--home', clientHome, ...args]), 0, args.join(' '));
  assert.ok((await readFile(join(local, name))).equals(next), 'byte-exact');
  return { down: proxy!.totalBytes('serverToClient') - before, size: next.length };
}

test('send --overwrite --quiet of a file with 1 KiB inserted near the start sends a small part of it, byte-exact, silently', async () => {
  const { up, size } = await sendReplacing('up.img', ['--chunk-size', '256k', '--quiet']);
  assert.ok(up < 96 * 1024, `${up} bytes client->server for a ${size}-byte file`);
});

test('get --overwrite of a file with 1 KiB inserted near the start receives a small part of it, byte-exact', async () => {
  const { down, size } = await getReplacing('down.img', []);
  // The blocks around the insertion, the signature (20 bytes a block of §5.17.4's size: ~30 KB) and the session.
  assert.ok(down < 2 * 64 * 1024 + 8 * 1024, `${down} bytes server->client for a ${size}-byte file`);
});

test('send --overwrite --no-delta sends the whole file again, byte-exact', async () => {
  const { up, size } = await sendReplacing('up-whole.img', ['--no-delta']);
  assert.ok(up >= size, `${up} bytes client->server: the whole ${size}-byte file`);
});

test('get --overwrite --no-delta receives the whole file again, byte-exact', async () => {
  const { down, size } = await getReplacing('down-whole.img', ['--no-delta']);
  assert.ok(down >= size, `${down} bytes server->client: the whole ${size}-byte file`);
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
