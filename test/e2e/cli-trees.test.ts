// End to end: directory trees, listings, permissions and confinement through the real CLI (bin/ferry,
// compiled dist/) as separate processes on loopback. Every child gets `--home` and an environment without
// FERRY_HOME; none reads stdin. Byte-exact mtime rules and the 255-byte names are covered by
// test/integration/tree-round-trip.test.ts; here the CLI's own wiring is what is proved.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK = ['--chunk-size', '64k'];
const FAST_RETRY = ['--retry-delay', '1'];

describe('ferry send -r, get -r and ls through the CLI', () => {
  let dir: string;
  let clientHome: string;
  let serverHome: string;
  let root: string;
  let serverId: string;
  let server: ServeProcess;
  const proxies: FaultProxy[] = [];

  async function keygen(home: string): Promise<string> {
    const result = await runFerry(['--home', home, 'keygen']);
    assertExit(result, 0, 'keygen');
    return result.stdout.trim();
  }

  /** A new client home allowed with `allowArgs` (e.g. --permissions upload). */
  async function newClient(name: string, allowArgs: string[] = []): Promise<string> {
    const home = join(dir, name);
    const id = await keygen(home);
    assertExit(await runFerry(['--home', serverHome, 'allow', id, '--name', name, ...allowArgs]), 0, 'allow');
    return home;
  }

  function ferry(home: string, ...args: string[]): Promise<CliResult> {
    return runFerry(['--home', home, ...args, '--expect', serverId, ...FAST_RETRY]);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-trees-');
    serverHome = join(dir, 'server-home');
    root = join(dir, 'srv', 'root');
    serverId = await keygen(serverHome);
    clientHome = await newClient('client-home');
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
  });

  after(async () => {
    await Promise.allSettled(proxies.map((p) => p.close()));
    await server.stop();
    await removeTempDir(dir);
  });

  test('send -r then get -r into a LOCAL_DIR reproduces a tree: nested and empty folders, odd names, zero-byte and multi-chunk files, modes, mtimes and links', async () => {
    const random = new SeededRandom(7);
    const source = join(dir, 'local', 'album');
    for (const d of ['nested/deeper', 'empty', 'nested/also empty', 'with space'])
      await mkdir(join(source, d), { recursive: true });
    const files: Array<[string, number, number]> = [
      ['zero', 0, 0o644],
      ['big.bin', 5 * 64 * 1024 + 99, 0o600],
      ['nested/deeper/leaf.txt', 100, 0o640],
      ['nested/tool.sh', 50, 0o755],
      ['with space/a b c.txt', 5, 0o644],
      ['caf\u00e9 nfc.txt', 6, 0o644],
      ['cafe\u0301 nfd.txt', 7, 0o644],
      ['-rf', 8, 0o644],
      ['--version', 9, 0o644],
      ['\u65e5\u672c\u8a9e.txt', 10, 0o644],
    ];
    let mtime = 1_500_000_000;
    for (const [path, size, mode] of files) {
      await writeFile(join(source, path), random.bytes(size));
      await chmod(join(source, path), mode);
      await utimes(join(source, path), mtime, (mtime += 3601.25));
    }
    await symlink('deeper/leaf.txt', join(source, 'nested', 'leaf-link'));
    await symlink('../big.bin', join(source, 'nested', 'big-link'));
    await symlink('/etc/hostname', join(source, 'absolute-link'));
    for (const d of ['nested/deeper', 'nested/also empty', 'nested', 'empty', 'with space']) {
      await chmod(join(source, d), d === 'nested' ? 0o750 : 0o755);
      await utimes(join(source, d), mtime, (mtime += 86_400.5));
    }
    const original = await snapshotTree(source);
    original.delete('absolute-link');

    const sent = await ferry(
      clientHome,
      'send',
      '-r',
      source,
      `${server.address}/trees/`,
      '--mkdir',
      ...CHUNK,
    );
    assertExit(sent, 0, 'send -r');
    assert.match(sent.stderr, /skipped album\/absolute-link: symbolic link points outside the tree/);
    assertSameTree(await snapshotTree(join(root, 'trees', 'album')), original, 'the tree on the server');

    const dest = join(dir, 'fetched');
    const got = await ferry(
      clientHome,
      'get',
      '-r',
      `${server.address}/trees/album`,
      `${dest}/`,
      '--mkdir',
      ...CHUNK,
    );
    assertExit(got, 0, 'get -r');
    assert.deepEqual(await readdir(dest), ['album']);
    assertSameTree(await snapshotTree(join(dest, 'album')), original, 'the tree after the round trip');

    // The same send again: every file is already there, identical, and counted so (a tree prints a line
    // per failed or skipped file only); with --verbose each file gets its line back.
    const again = await ferry(clientHome, 'send', '-r', source, `${server.address}/trees`, ...CHUNK);
    assertExit(again, 0, 'send -r again');
    assert.doesNotMatch(again.stderr, /identical, skipped/);
    assert.match(
      again.stderr,
      new RegExp(
        `^nothing to send: ${files.length} files already identical, \\S+ \\S+ checked in \\S+ m?s$`,
        'm',
      ),
    );
    const verbose = await ferry(clientHome, 'send', '-r', '-v', source, `${server.address}/trees`, ...CHUNK);
    assertExit(verbose, 0, 'send -r -v again');
    assert.equal((verbose.stderr.match(/identical, skipped/g) ?? []).length, files.length, verbose.stderr);
  });

  test('ls lists names, sizes, kinds and local mtimes; ls -r --json prints one parseable entry per line for the whole tree, never `.ferry`', async () => {
    await mkdir(join(root, 'listing', 'sub', 'empty'), { recursive: true });
    await writeFile(join(root, 'listing', 'a.txt'), 'x'.repeat(1234));
    await writeFile(join(root, 'listing', 'sub', 'b.txt'), '');
    await symlink('../a.txt', join(root, 'listing', 'sub', 'to-a'));
    await utimes(join(root, 'listing', 'a.txt'), 1_600_000_000, 1_600_000_000);

    // In local time, as ls -l shows it: 12:26 UTC is 17:56 in India (UTC+5:30); it showed UTC, unsaid.
    const plain = await runFerry(
      ['--home', clientHome, 'ls', `${server.address}/listing`, '--expect', serverId],
      { env: { TZ: 'Asia/Kolkata' } },
    );
    assertExit(plain, 0, 'ls');
    const lines = plain.stdout.trim().split('\n');
    assert.equal(lines.length, 2, plain.stdout);
    assert.match(lines[0]!, /^-rw-r--r-- +1234 2020-09-13 17:56 a\.txt$/);
    assert.match(lines[1]!, /^drwxr-xr-x +0 .* sub\/$/);
    // --names-only (LIST_REQUEST NAMES_ONLY, PROTOCOL.md §5.12): kind, size and name, no mode or mtime shown.
    const names = await ferry(clientHome, 'ls', '--names-only', `${server.address}/listing`);
    assertExit(names, 0, 'ls --names-only');
    assert.deepEqual(names.stdout.trim().split('\n'), [
      `- ${'1234'.padStart(12)} a.txt`,
      `d ${'0'.padStart(12)} sub/`,
    ]);
    const namesJson = await ferry(
      clientHome,
      'ls',
      '-r',
      '--json',
      '--names-only',
      `${server.address}/listing`,
    );
    assertExit(namesJson, 0, 'ls -r --json --names-only');
    const first = JSON.parse(namesJson.stdout.split('\n')[0]!) as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(first).sort(),
      ['kind', 'linkTarget', 'path', 'size', 'v'],
      namesJson.stdout,
    );

    const json = await ferry(clientHome, 'ls', '-r', '--json', `${server.address}/listing`);
    assertExit(json, 0, 'ls -r --json');
    const entries = json.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            kind: string;
            path: string;
            size: number;
            mtimeMs: number;
            linkTarget: string;
          },
      );
    assert.deepEqual(
      entries.map((e) => [e.kind, e.path, e.size, e.linkTarget]),
      [
        ['file', 'a.txt', 1234, ''],
        ['dir', 'sub', 0, ''],
        ['file', 'sub/b.txt', 0, ''],
        ['dir', 'sub/empty', 0, ''],
        ['link', 'sub/to-a', 0, '../a.txt'],
      ],
    );
    assert.equal(entries[0]!.mtimeMs, 1_600_000_000_000);

    const top = await ferry(clientHome, 'ls', '-r', '--json', server.address);
    assertExit(top, 0, 'ls -r --json of the root');
    assert.doesNotMatch(top.stdout, /\.ferry/, 'the server state directory is never listed');
  });

  test('300 small files go up with send -r and come back with get -r, each over exactly one TCP connection', async () => {
    const [host, port] = server.address.split(':');
    // A fault proxy without faults: it counts connections and bytes, and a reset never goes unhandled.
    const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
    proxies.push(proxy);
    const random = new SeededRandom(300);
    const source = join(dir, 'local', 'many');
    for (let d = 0; d < 6; d++) await mkdir(join(source, `d${d}`), { recursive: true });
    for (let i = 0; i < 300; i++)
      await writeFile(join(source, `d${i % 6}`, `f${i}`), random.bytes(random.int(1024, 4096)));
    const original = await snapshotTree(source);
    const target = proxy.addressText;

    const sent = await ferry(clientHome, 'send', '-r', '-q', source, `${target}/bulk/`, '--mkdir', ...CHUNK);
    assertExit(sent, 0, 'send -r of 300 files');
    assert.equal(proxy.connections.length, 1, 'send -r used one connection');

    const dest = join(dir, 'many-back');
    const got = await ferry(
      clientHome,
      'get',
      '-r',
      '-q',
      `${target}/bulk/many`,
      `${dest}/`,
      '--mkdir',
      ...CHUNK,
    );
    assertExit(got, 0, 'get -r of 300 files');
    assert.equal(proxy.connections.length, 2, 'get -r used one more connection');
    assertSameTree(await snapshotTree(join(dest, 'many')), original, 'the 300 files');
  });

  test('a client allowed only to upload gets exit 4 (PERMISSION_DENIED) from get and ls; one allowed only to download from send', async () => {
    await mkdir(join(root, 'perm'), { recursive: true });
    await writeFile(join(root, 'perm', 'file.txt'), 'data');
    const uploader = await newClient('uploader-home', ['--permissions', 'upload']);
    const downloader = await newClient('downloader-home', ['--permissions', 'download']);
    const dest = join(dir, 'perm-dest');

    for (const args of [
      ['get', `${server.address}/perm/file.txt`, dest],
      ['get', '-r', `${server.address}/perm`, dest],
      ['ls', `${server.address}/perm`],
    ]) {
      const result = await ferry(uploader, ...args);
      assertExit(result, 4, `upload-only ${args.join(' ')}`);
      assert.match(result.stderr, /PERMISSION_DENIED/);
    }
    assert.deepEqual(await listTree(dest).catch(() => []), [], 'nothing was downloaded');

    const source = join(dir, 'perm-source.txt');
    await writeFile(source, 'nope');
    const before = await listTree(root);
    const sent = await ferry(downloader, 'send', source, `${server.address}/perm`);
    assertExit(sent, 4, 'download-only send');
    assert.match(sent.stderr, /PERMISSION_DENIED/);
    assert.deepEqual(await listTree(root), before);
    assertExit(
      await ferry(downloader, 'get', `${server.address}/perm/file.txt`, `${dest}/`, '--mkdir'),
      0,
      'download-only get',
    );
    assert.equal(await readFile(join(dest, 'file.txt'), 'utf8'), 'data');
  });

  test('a client confined with `allow --root sub` sees only sub, lands its files there, and cannot climb out with `..` (exit 7)', async () => {
    await mkdir(join(root, 'sub', 'inside'), { recursive: true });
    await writeFile(join(root, 'sub', 'inside', 'here.txt'), 'here');
    await writeFile(join(root, 'outside-secret.txt'), 'secret');
    const confined = await newClient('confined-home', ['--root', 'sub']);

    const listing = await ferry(confined, 'ls', '-r', '--json', server.address);
    assertExit(listing, 0, 'confined ls');
    const paths = listing.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { path: string }).path);
    assert.deepEqual(paths, ['inside', 'inside/here.txt'], 'the root of a confined client is sub');

    const source = join(dir, 'confined.txt');
    await writeFile(source, 'confined upload');
    assertExit(
      await ferry(confined, 'send', source, `${server.address}/drop/`, '--mkdir'),
      0,
      'confined send',
    );
    assert.equal(await readFile(join(root, 'sub', 'drop', 'confined.txt'), 'utf8'), 'confined upload');

    const [host, port] = server.address.split(':');
    // A fault proxy without faults: it counts connections and bytes, and a reset never goes unhandled.
    const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
    proxies.push(proxy);
    const viaProxy = proxy.addressText;
    const dest = join(dir, 'confined-dest');
    const serverLogBefore = server.stderr.length;
    const attempts = [
      ['get', `${viaProxy}/../outside-secret.txt`, dest],
      ['get', `${viaProxy}/inside/../../outside-secret.txt`, dest],
      ['get', '-r', `${viaProxy}/..`, dest],
      ['send', source, `${viaProxy}/../escaped`],
      ['ls', `${viaProxy}/..`],
    ];
    for (const args of attempts) {
      const result = await ferry(confined, ...args);
      assertExit(result, 7, `confined ${args.join(' ')}`);
      assert.match(result.stderr, /PATH_INVALID/);
    }
    assert.deepEqual(await listTree(dest).catch(() => []), []);
    await assert.rejects(lstat(join(root, 'escaped')), { code: 'ENOENT' });
    // Refused by the client before connecting, all five (`get` too checks its remote paths before the
    // identity is loaded and the server dialled): the server never had to refuse anything.
    assert.equal(proxy.connections.length, 0, 'no command connected to send an escaping path');
    assert.doesNotMatch(server.stderr.slice(serverLogBefore), /refused/);
  });
});
