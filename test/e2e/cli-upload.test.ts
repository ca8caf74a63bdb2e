// End to end: the real `ferry` CLI (bin/ferry, compiled dist/) as separate processes on loopback.
// Every child gets `--home` explicitly and an environment without FERRY_HOME; none reads stdin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const FILE_BYTES = 3 * 1024 * 1024 + 12_345; // not a multiple of the chunk size: the last chunk is short
const SMALL_BYTES = 100_000;
const CHUNK = ['--chunk-size', '64k'];
/** A ferry ID as printed: 6 groups of 9 base32 characters (PROTOCOL.md §3.4). */
const ID_LINE = /^[a-z2-7]{9}(-[a-z2-7]{9}){5}\n$/;

/** Fails with everything the process printed, so a red test explains itself. */

/**
 * The error line names `address` once, as its subject (OpenSSH names the host once too): the commands quoted in
 * backticks (`ferry trust ADDRESS ID`) repeat it on purpose and are not counted.
 */
function assertNamesAddressOnce(stderr: string, address: string): void {
  const prose = stderr.replace(/`[^`]*`/g, '``');
  const count = prose.split(address).length - 1;
  assert.equal(count, 1, `the address is named ${count} times outside the quoted commands:\n${stderr}`);
}

async function keygen(home: string): Promise<string> {
  const result = await runFerry(['--home', home, 'keygen']);
  assertExit(result, 0, 'keygen');
  assert.match(result.stdout, ID_LINE);
  return result.stdout.trim();
}

async function allow(serverHome: string, clientId: string): Promise<void> {
  assertExit(await runFerry(['--home', serverHome, 'allow', clientId, '--name', 'test-client']), 0, 'allow');
}

describe('ferry CLI: send to serve over loopback', () => {
  let dir: string;
  let clientHome: string;
  let serverHome: string;
  let root: string;
  let clientId: string;
  let serverId: string;
  let server: ServeProcess | undefined;
  const extraServers: ServeProcess[] = [];

  before(async () => {
    dir = await makeTempDir();
    clientHome = join(dir, 'client-home');
    serverHome = join(dir, 'server-home');
    // The root sits one level down, so an escape via `..` would land in `srv/` where we can see it.
    root = join(dir, 'srv', 'root');
    clientId = await keygen(clientHome);
    serverId = await keygen(serverHome);
    await allow(serverHome, clientId);
    server = await startServe(['--home', serverHome, '--root', root]);
  });

  after(async () => {
    await Promise.allSettled([server?.stop(), ...extraServers.map((s) => s.stop())]);
    await removeTempDir(dir);
  });

  test('keygen prints the ID alone on one line, and `ferry id` prints the same with --home before or after', async () => {
    const before = await runFerry(['--home', clientHome, 'id']);
    const afterName = await runFerry(['id', '--home', clientHome]);
    assertExit(before, 0, 'ferry --home H id');
    assertExit(afterName, 0, 'ferry id --home H');
    assert.equal(before.stdout, `${clientId}\n`);
    assert.equal(afterName.stdout, `${clientId}\n`);
    assert.equal(server!.id, serverId, 'serve banner shows the server home identity');
  });

  test('FERRY_HOME selects the home when no --home is given', async () => {
    const result = await runFerry(['id'], { env: { FERRY_HOME: serverHome } });
    assertExit(result, 0, 'FERRY_HOME=H ferry id');
    assert.equal(result.stdout, `${serverId}\n`);
  });

  test('--help lists the commands and exits 0', async () => {
    const top = await runFerry(['--help']);
    assertExit(top, 0, 'ferry --help');
    for (const command of ['keygen', 'id', 'allow', 'trust', 'serve', 'send'])
      assert.match(top.stdout, new RegExp(`\\b${command}\\b`));
    const send = await runFerry(['send', '--help']);
    assertExit(send, 0, 'ferry send --help');
    assert.match(send.stdout, /--expect/);
    assert.match(send.stdout, /--overwrite/);
  });

  test('the private key file is created with mode 0600', async () => {
    for (const home of [clientHome, serverHome]) {
      const mode = (await stat(join(home, 'identity.key'))).mode & 0o777;
      assert.equal(mode, 0o600, `${home}/identity.key has mode ${mode.toString(8)}`);
    }
  });

  test('a 3 MiB file sent with --expect lands byte-identical in new nested directories and leaves no partial', async () => {
    const source = join(dir, 'payload.bin');
    const sourceSha = await writeRandomFile(source, FILE_BYTES);
    const result = await runFerry([
      '--home',
      clientHome,
      'send',
      source,
      `${server!.address}/incoming/deep/`,
      '--mkdir',
      '--expect',
      serverId,
      ...CHUNK,
    ]);
    assertExit(result, 0, 'send');
    const landed = join(root, 'incoming', 'deep', 'payload.bin');
    assert.equal((await stat(landed)).size, FILE_BYTES);
    assert.equal(await sha256File(landed), sourceSha);
    assert.deepEqual(await readdir(join(root, '.ferry', 'partial')), [], 'no partial state left behind');
  });

  test('an unauthorised client is refused with exit 4 (CLIENT_NOT_ALLOWED) and nothing is written under the root', async () => {
    const strangerHome = join(dir, 'stranger-home');
    await keygen(strangerHome);
    const source = join(dir, 'stranger.bin');
    await writeRandomFile(source, SMALL_BYTES);
    const treeBefore = await listTree(root);
    const result = await runFerry([
      '--home',
      strangerHome,
      'send',
      source,
      `${server!.address}/stranger`,
      '--expect',
      serverId,
      ...CHUNK,
    ]);
    assertExit(result, 4, 'send from an unknown key');
    assert.match(result.stderr, /CLIENT_NOT_ALLOWED/);
    assert.deepEqual(await listTree(root), treeBefore, 'the root is untouched');
  });

  test('an unknown server is refused without --expect or --accept-new (SERVER_KEY_UNKNOWN); --accept-new pins it for later sends', async () => {
    const freshHome = join(dir, 'fresh-client-home');
    await allow(serverHome, await keygen(freshHome));
    const source = join(dir, 'tofu.bin');
    const sourceSha = await writeRandomFile(source, SMALL_BYTES);
    const target = `${server!.address}/tofu/`;

    const refused = await runFerry(['--home', freshHome, 'send', source, target, ...CHUNK]);
    assertExit(refused, 4, 'send to an unknown server');
    assert.match(refused.stderr, /SERVER_KEY_UNKNOWN/);
    assertNamesAddressOnce(refused.stderr, server!.address);
    await assert.rejects(stat(join(root, 'tofu')), { code: 'ENOENT' });

    // Another id than the one offered: CHANGED (the user said which key is right), the address named once.
    const wrongId = await runFerry([
      '--home',
      freshHome,
      'send',
      source,
      target,
      '--expect',
      clientId,
      ...CHUNK,
    ]);
    assertExit(wrongId, 4, 'send --expect ANOTHER_ID');
    assert.match(wrongId.stderr, /SERVER_KEY_CHANGED.*does not match --expect/);
    assertNamesAddressOnce(wrongId.stderr, server!.address);

    const accepted = await runFerry([
      '--home',
      freshHome,
      'send',
      source,
      target,
      '--mkdir',
      '--accept-new',
      ...CHUNK,
    ]);
    assertExit(accepted, 0, 'send --accept-new');
    assert.equal(await sha256File(join(root, 'tofu', 'tofu.bin')), sourceSha);

    // Pinned now: a plain send (no flag) is trusted. --overwrite because the file is already there.
    const pinned = await runFerry(['--home', freshHome, 'send', source, target, '--overwrite', ...CHUNK]);
    assertExit(pinned, 0, 'send to the pinned server without flags');
  });

  test('a server whose key changed at a pinned address is refused with exit 4 (SERVER_KEY_CHANGED) and nothing is written', async () => {
    // The first server at this address: pin it explicitly, as an operator would from its banner.
    const oldHome = join(dir, 'old-server-home');
    const oldRoot = join(dir, 'old-root');
    const oldId = await keygen(oldHome);
    const oldServer = await startServe(['--home', oldHome, '--root', oldRoot]);
    extraServers.push(oldServer);
    const address = oldServer.address;
    assertExit(await runFerry(['--home', clientHome, 'trust', address, oldId]), 0, 'trust');
    await oldServer.stop();

    // Same address, new identity; it even allows our client, so only the pin can stop the upload.
    const newHome = join(dir, 'new-server-home');
    const newRoot = join(dir, 'new-root');
    await keygen(newHome);
    await allow(newHome, clientId);
    const newServer = await startServe(['--home', newHome, '--root', newRoot, '--listen', address]);
    extraServers.push(newServer);
    assert.equal(newServer.address, address);

    const source = join(dir, 'changed.bin');
    await writeRandomFile(source, SMALL_BYTES);
    const treeBefore = await listTree(newRoot);
    const result = await runFerry(['--home', clientHome, 'send', source, `${address}/changed`, ...CHUNK]);
    assertExit(result, 4, 'send to a server with a changed key');
    assert.match(result.stderr, /SERVER_KEY_CHANGED/);
    assertNamesAddressOnce(result.stderr, address);
    assert.deepEqual(await listTree(newRoot), treeBefore, 'the impostor root is untouched');
    // --accept-new never overrides a changed key (PROTOCOL.md §3.5).
    const forced = await runFerry([
      '--home',
      clientHome,
      'send',
      source,
      `${address}/changed`,
      '--accept-new',
      ...CHUNK,
    ]);
    assertExit(forced, 4, 'send --accept-new to a server with a changed key');
    assert.match(forced.stderr, /SERVER_KEY_CHANGED/);
    assert.deepEqual(await listTree(newRoot), treeBefore, 'the impostor root is still untouched');
  });

  test('remote paths that climb out of the root (`..`, `a/../..`) are refused with exit 7 and nothing lands outside', async () => {
    const source = join(dir, 'escape.bin');
    await writeRandomFile(source, SMALL_BYTES);
    const outside = join(dir, 'srv');
    const treeBefore = await listTree(outside);
    for (const remote of ['../x', 'a/../../x', '..']) {
      const result = await runFerry([
        '--home',
        clientHome,
        'send',
        source,
        `${server!.address}/${remote}`,
        '--expect',
        serverId,
        ...CHUNK,
      ]);
      assertExit(result, 7, `send to ${remote}`);
      assert.match(result.stderr, /PATH_INVALID|PATH_ESCAPES_ROOT/);
    }
    assert.deepEqual(await listTree(outside), treeBefore, 'neither the root nor its parent changed');
  });

  test('a remote directory that is a symlink planted inside the root is refused with exit 7 and its target stays empty', async () => {
    const outsideDir = join(dir, 'outside-target');
    await mkdir(outsideDir);
    await symlink(outsideDir, join(root, 'planted'));
    await mkdir(join(root, 'real'));
    await symlink(outsideDir, join(root, 'real', 'nested-link'));
    const source = join(dir, 'via-link.bin');
    await writeRandomFile(source, SMALL_BYTES);
    for (const remote of ['planted', 'planted/sub', 'real/nested-link']) {
      const result = await runFerry([
        '--home',
        clientHome,
        'send',
        source,
        `${server!.address}/${remote}`,
        '--expect',
        serverId,
        ...CHUNK,
      ]);
      assertExit(result, 7, `send into ${remote}`);
      assert.match(result.stderr, /PATH_ESCAPES_ROOT/);
    }
    assert.deepEqual(await readdir(outsideDir), [], 'nothing was written through the link');
    assert.deepEqual(await readdir(join(root, '.ferry', 'partial')), [], 'no partial state was created');
  });

  test('an existing destination is refused with exit 8 without --overwrite and replaced with it', async () => {
    const first = join(dir, 'v1', 'same.bin');
    const second = join(dir, 'v2', 'same.bin');
    await mkdir(join(dir, 'v1'));
    await mkdir(join(dir, 'v2'));
    const firstSha = await writeRandomFile(first, SMALL_BYTES);
    const secondSha = await writeRandomFile(second, SMALL_BYTES + 1);
    const target = `${server!.address}/ow/`;
    const landed = join(root, 'ow', 'same.bin');

    assertExit(
      await runFerry([
        '--home',
        clientHome,
        'send',
        first,
        target,
        '--mkdir',
        '--expect',
        serverId,
        ...CHUNK,
      ]),
      0,
      'first send',
    );
    assert.equal(await sha256File(landed), firstSha);

    const refused = await runFerry([
      '--home',
      clientHome,
      'send',
      second,
      target,
      '--expect',
      serverId,
      ...CHUNK,
    ]);
    assertExit(refused, 8, 'send onto an existing file');
    assert.match(refused.stderr, /FILE_EXISTS/);
    assert.equal(await sha256File(landed), firstSha, 'the existing file is unchanged');

    const replaced = await runFerry([
      '--home',
      clientHome,
      'send',
      second,
      target,
      '--expect',
      serverId,
      '--overwrite',
      ...CHUNK,
    ]);
    assertExit(replaced, 0, 'send --overwrite');
    assert.equal(await sha256File(landed), secondSha);
    assert.deepEqual(await readdir(join(root, '.ferry', 'partial')), [], 'no partial state left behind');
  });

  test('a send with no identity in its home fails with a config error (exit 3) and reaches no server', async () => {
    const emptyHome = join(dir, 'empty-home');
    await mkdir(emptyHome);
    const source = join(dir, 'nokey.bin');
    await writeFile(source, 'x');
    const result = await runFerry([
      '--home',
      emptyHome,
      'send',
      source,
      `${server!.address}/nokey`,
      '--expect',
      serverId,
    ]);
    assertExit(result, 3, 'send without an identity');
    assert.match(result.stderr, /KEY_NOT_FOUND/);
    await assert.rejects(stat(join(root, 'nokey')), { code: 'ENOENT' });
  });
});

describe('ferry serve', () => {
  test('listening on 127.0.0.1:0 binds a free port and prints it in the banner', async (t) => {
    const dir = await makeTempDir();
    const servers: ServeProcess[] = [];
    t.after(async () => {
      await Promise.allSettled(servers.map((s) => s.stop()));
      await removeTempDir(dir);
    });
    const home = join(dir, 'home');
    const id = await keygen(home);
    const server = await startServe(['--home', home, '--root', join(dir, 'root'), '--listen', '127.0.0.1:0']);
    servers.push(server);
    assert.equal(server.id, id);
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(server.address, '127.0.0.1:0');
  });

  test('refuses a --root that contains its home (exit 3, ROOT_CONTAINS_HOME) before it listens', async (t) => {
    const dir = await makeTempDir();
    t.after(() => removeTempDir(dir));
    const home = join(dir, 'home');
    await keygen(home);
    const result = await runFerry(['--home', home, 'serve', '--root', dir, '--listen', '127.0.0.1:0']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /ROOT_CONTAINS_HOME|overlap/);
    assert.doesNotMatch(result.stdout, /server ready/);
  });
});
