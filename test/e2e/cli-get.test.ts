// End to end: `ferry get` through the real CLI (bin/ferry, compiled dist/) as separate processes on loopback:
// single and several files into a LOCAL_DIR, the overwrite policy both ways, and a download that resumes
// when the same command is run again after a kill -9 of the client. Bytes are counted at the fault proxy;
// nothing sleeps: the tests wait on process exits, proxy events and file system events.
//
// The client makes verified chunks durable in batches of DURABLE_BATCH_BYTES (16 MiB, PROTOCOL.md §9.2), and
// `ferry get` has no flag to change it, so the resumed file is a little over one batch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import { join } from 'node:path';
import {
  assertExit,
  runFerry,
  spawnFerry,
  startServe,
  type CliResult,
  type SpawnedFerry,
  type ServeProcess,
} from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
const CHUNK = ['--chunk-size', '64k'];
const FAST_RETRY = ['--retry-delay', '1'];
const DURABLE_BATCH_BYTES = 16 * 1024 * 1024;
/** Bytes per log entry of a partial's state file (PROTOCOL.md §9.2: u32 index, b32 hash, u32 crc32). */
const STATE_ENTRY_BYTES = 40;
const CHUNK_OVERHEAD_BYTES = 90;
/** Per session server->client: version answer and handshake message 2 (1210), WELCOME, GET_OFFERs, GET_ENDs. */
const SESSION_OVERHEAD_BYTES = 2048;

/** Resolves once `file` in `dir` is at least `bytes` long; woken by fs.watch, never by a timer. */
async function waitForFileSize(dir: string, file: string, bytes: number): Promise<void> {
  const big = async (): Promise<boolean> =>
    ((await stat(join(dir, file)).catch(() => undefined))?.size ?? 0) >= bytes;
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(dir);
    let checking = Promise.resolve();
    const check = (): void => {
      checking = checking.then(async () => {
        if (await big()) {
          watcher.close();
          resolve();
        }
      }, reject);
    };
    watcher.on('change', check);
    watcher.on('error', reject);
    check(); // it may already be there
  });
}

describe('ferry get through the CLI', () => {
  let dir: string;
  let clientHome: string;
  let serverHome: string;
  let root: string;
  let serverId: string;
  let server: ServeProcess;
  const proxies: FaultProxy[] = [];
  const children: SpawnedFerry[] = [];

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, ...FAST_RETRY, ...CHUNK]);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-get-');
    clientHome = join(dir, 'client-home');
    serverHome = join(dir, 'server-home');
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
    for (const child of children)
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    await Promise.allSettled(children.map((c) => c.done));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await server.stop();
    await removeTempDir(dir);
  });

  test('get of one file, of several files into a LOCAL_DIR, and without LOCAL_DIR into the current directory', async () => {
    await mkdir(join(root, 'files', 'nested'), { recursive: true });
    const shas: Record<string, string> = {};
    for (const [name, size] of [
      ['one.bin', 5 * CHUNK_BYTES + 3],
      ['two.txt', 10],
      ['nested/three', 0],
    ] as const)
      shas[name] = await writeRandomFile(join(root, 'files', name), size);

    const single = join(dir, 'single');
    assertExit(
      await ferry('get', `${server.address}/files/one.bin`, `${single}/`, '--mkdir'),
      0,
      'get one file',
    );
    assert.deepEqual(await readdir(single), ['one.bin']);
    assert.equal(await sha256File(join(single, 'one.bin')), shas['one.bin']);

    const several = join(dir, 'several');
    const result = await ferry(
      'get',
      `${server.address}/files/one.bin`,
      `${server.address}/files/two.txt`,
      `${server.address}/files/nested/three`,
      several,
      '--mkdir',
    );
    assertExit(result, 0, 'get several files');
    assert.deepEqual((await readdir(several)).sort(), ['one.bin', 'three', 'two.txt']);
    assert.equal(await sha256File(join(several, 'two.txt')), shas['two.txt']);
    assert.equal((await stat(join(several, 'three'))).size, 0);
    assert.match(result.stderr, /files\/two\.txt -> .*two\.txt \(10 B, received\)/);

    const cwd = join(dir, 'cwd');
    await mkdir(cwd);
    const here = await runFerry(
      ['--home', clientHome, 'get', `${server.address}/files/two.txt`, '--expect', serverId, ...FAST_RETRY],
      { cwd },
    );
    assertExit(here, 0, 'get without LOCAL_DIR');
    assert.deepEqual(await readdir(cwd), ['two.txt']);
  });

  test('get onto an existing different file exits 8 (FILE_EXISTS) and keeps it; --overwrite replaces it atomically; an identical file is skipped and reported', async () => {
    await mkdir(join(root, 'ow'), { recursive: true });
    const remoteSha = await writeRandomFile(join(root, 'ow', 'data.bin'), 3 * CHUNK_BYTES);
    const dest = join(dir, 'ow-dest');
    await mkdir(dest);
    const local = join(dest, 'data.bin');

    for (const [what, content] of [
      ['same size, other content', Buffer.alloc(3 * CHUNK_BYTES, 7)],
      ['other size', Buffer.from('short')],
    ] as const) {
      await writeFile(local, content);
      const refused = await ferry('get', `${server.address}/ow/data.bin`, dest);
      assertExit(refused, 8, `get onto a file of ${what}`);
      assert.match(refused.stderr, /FILE_EXISTS/);
      assert.deepEqual(await readFile(local), content, 'the existing file is unchanged');
      assert.deepEqual(await readdir(dest), ['data.bin'], 'no partial is left beside it');
    }

    const inodeBefore = (await stat(local)).ino;
    assertExit(
      await ferry('get', `${server.address}/ow/data.bin`, dest, '--overwrite'),
      0,
      'get --overwrite',
    );
    assert.equal(await sha256File(local), remoteSha);
    assert.notEqual((await stat(local)).ino, inodeBefore, 'replaced by a rename, not rewritten in place');
    assert.deepEqual(await readdir(dest), ['data.bin']);

    const before = await stat(local);
    const identical = await ferry('get', `${server.address}/ow/data.bin`, dest);
    assertExit(identical, 0, 'get of an identical file');
    assert.match(identical.stderr, /ow\/data\.bin -> .*data\.bin \(192 KiB, identical, skipped\)/);
    const after = await stat(local);
    assert.deepEqual(
      [after.ino, after.mtimeMs],
      [before.ino, before.mtimeMs],
      'the identical file is untouched',
    );
  });

  test('send -r onto an existing tree: an identical file is skipped, a changed one exits 8 until --overwrite replaces both without comparing', async () => {
    const source = join(dir, 'send-ow', 'tree');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'same.txt'), 'same');
    await writeFile(join(source, 'changes.txt'), 'version 1');
    assertExit(
      await ferry('send', '-r', source, `${server.address}/send-ow/`, '--mkdir'),
      0,
      'first send -r',
    );
    await writeFile(join(source, 'changes.txt'), 'version 2');

    const refused = await ferry('send', '-r', source, `${server.address}/send-ow`);
    assertExit(refused, 8, 'send -r onto a changed file');
    assert.match(refused.stderr, /FILE_EXISTS/);
    assert.equal(await readFile(join(root, 'send-ow', 'tree', 'changes.txt'), 'utf8'), 'version 1');

    const skipped = await ferry('send', '-r', source, `${server.address}/send-ow/again/`, '--mkdir');
    assertExit(skipped, 0, 'a first send into another directory');
    const unchanged = await ferry(
      'send',
      '-r',
      '--verbose', // a line per file, not only for failed and skipped ones
      join(source),
      `${server.address}/send-ow/again`,
      '--overwrite',
    );
    assertExit(unchanged, 0, 'send -r --overwrite of identical files');
    // --overwrite replaces without comparing (README "Existing files"): the identical file is sent again.
    assert.match(unchanged.stderr, /same\.txt -> send-ow\/again\/tree\/same\.txt \(4 B, sent\)/);

    const identical = await ferry('send', '-r', source, `${server.address}/send-ow`);
    assertExit(identical, 8, 'still refused: changes.txt differs');
    const replaced = await ferry('send', '-r', source, `${server.address}/send-ow`, '--overwrite');
    assertExit(replaced, 0, 'send -r --overwrite');
    assert.equal(await readFile(join(root, 'send-ow', 'tree', 'changes.txt'), 'utf8'), 'version 2');
    const again = await ferry('send', '-r', '-v', source, `${server.address}/send-ow`);
    assertExit(again, 0, 'send -r of a tree now identical');
    assert.match(again.stderr, /same\.txt -> send-ow\/tree\/same\.txt \(4 B, identical, skipped\)/);
  });

  test('after kill -9 of `ferry get -r`, the same command skips the finished files as identical and resumes the partial one from `.NAME.ferry-part`', async (t) => {
    const tree = join(root, 'resume', 'tree');
    await mkdir(tree, { recursive: true });
    const bigBytes = DURABLE_BATCH_BYTES + 4 * 1024 * 1024 + 12_345;
    const shas = {
      'a-small': await writeRandomFile(join(tree, 'a-small'), 40_000),
      'b-small': await writeRandomFile(join(tree, 'b-small'), 1_000),
      'z-big.bin': await writeRandomFile(join(tree, 'z-big.bin'), bigBytes),
    };
    const [host, port] = server.address.split(':');
    const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
    proxies.push(proxy);
    // Loopback buffers hold megabytes: the first connection carries only a little more than one durable
    // batch of the big file to the client, then freezes (server->client only), so the kill lands mid-file.
    const stallAt = 41_000 + DURABLE_BATCH_BYTES + 2 * 1024 * 1024;
    proxy.setPlan((i) =>
      i === 0 ? { stall: { afterBytes: stallAt, direction: 'serverToClient', freeze: 'one' } } : undefined,
    );
    const dest = join(dir, 'resume-dest');
    const args = [
      '--home',
      clientHome,
      'get',
      '-r',
      '-v', // a line per file: the identical ones are named
      `${proxy.addressText}/resume/tree`,
      `${dest}/`,
      '--mkdir',
      '--expect',
      serverId,
      ...FAST_RETRY,
      ...CHUNK,
    ];

    const first = spawnFerry(args);
    children.push(first);
    const connection = await proxy.connection(0);
    await connection.stalled;
    // One batch of the big file is durable once its state file lists that many chunks.
    const batchEntries = DURABLE_BATCH_BYTES / CHUNK_BYTES;
    await waitForFileSize(join(dest, 'tree'), '.z-big.bin.ferry-state', batchEntries * STATE_ENTRY_BYTES);
    first.process.kill('SIGKILL');
    const killed = await first.done;
    assert.equal(killed.signal, 'SIGKILL');
    connection.destroy();
    await connection.closed;
    // A small file's finish (fsyncs, rename, then removing its state log) may still have been under way
    // at the kill: a leftover `.a-small.ferry-state` is allowed here, and the rerun must clear it.
    assert.deepEqual(
      (await readdir(join(dest, 'tree'))).filter((n) => !/^\.[ab]-small\.ferry-state$/.test(n)).sort(),
      ['.z-big.bin.ferry-part', '.z-big.bin.ferry-state', 'a-small', 'b-small'],
      'the small files are in place and the big one is partial beside its destination',
    );

    const mark = proxy.connections.length;
    // --json: the exact bytes it resumed from (a line says them rounded, `1.50 MiB`).
    const rerun = spawnFerry([...args, '--json']);
    children.push(rerun);
    let stdout = '';
    rerun.process.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    const result = await rerun.done;
    assert.equal(result.code, 0, result.stderr);
    for (const [name, sha] of Object.entries(shas))
      assert.equal(await sha256File(join(dest, 'tree', name)), sha, name);
    assert.deepEqual(await listTree(dest), ['tree/', 'tree/a-small', 'tree/b-small', 'tree/z-big.bin']);
    const finished = new Map(
      stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((event) => event['type'] === 'transfer-finished')
        .map((event) => [String(event['remotePath']).split('/').at(-1), event]),
    );
    assert.equal(finished.get('a-small')?.['identical'], true, stdout);
    assert.equal(finished.get('b-small')?.['identical'], true, stdout);
    const heldBytes = Number(finished.get('z-big.bin')?.['resumedBytes']);
    assert.ok(heldBytes >= DURABLE_BATCH_BYTES, `resumed from ${heldBytes}`);
    const missing = bigBytes - heldBytes;
    const bound =
      missing +
      CHUNK_BYTES +
      (Math.ceil(missing / CHUNK_BYTES) + 1) * CHUNK_OVERHEAD_BYTES +
      SESSION_OVERHEAD_BYTES;
    const carried = proxy.bytesSince(mark, 'serverToClient');
    t.diagnostic(`rerun carried ${carried} bytes server->client for ${missing} missing; bound ${bound}`);
    assert.ok(carried <= bound, `rerun carried ${carried} bytes server->client, bound ${bound}`);
  });
});
