// End to end: where `ferry send` and `ferry get` put things, through the real CLI (bin/ferry, compiled dist/)
// against a real `ferry serve` on loopback. The rule is scp's (src/client/destination.ts): an existing
// directory receives the sources inside it; anything else names the one source itself; several sources or a
// trailing `/` need a directory; a missing directory is an error naming it unless --mkdir is given.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('scp-style targets through the CLI', () => {
  let dir: string;
  let clientHome: string;
  let root: string;
  let serverId: string;
  let server: ServeProcess;
  let a: string;
  let b: string;

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0']);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-targets-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'client keygen');
    const serverKey = await runFerry(['--home', serverHome, 'keygen']);
    serverId = serverKey.stdout.trim();
    assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
    a = join(dir, 'a.txt');
    b = join(dir, 'b.txt');
    await writeFile(a, 'aaa');
    await writeFile(b, 'bbbb');
  });

  after(async () => {
    await server.stop();
    await removeTempDir(dir);
  });

  test('send FILE HOST/new-name stores the file as new-name, and into an existing directory under its own name', async () => {
    assertExit(await ferry('send', a, `${server.address}/renamed.txt`), 0, 'send as a new name');
    assert.equal(await readFile(join(root, 'renamed.txt'), 'utf8'), 'aaa');
    await mkdir(join(root, 'inbox'));
    assertExit(await ferry('send', a, `${server.address}/inbox`), 0, 'send into a directory');
    assert.equal(await readFile(join(root, 'inbox', 'a.txt'), 'utf8'), 'aaa');
  });

  test('a missing remote parent is PATH_NOT_FOUND naming it and creates nothing; --mkdir creates it', async () => {
    const before = await listTree(root);
    const typo = await ferry('send', a, `${server.address}/tpyo/deep/a.txt`);
    assertExit(typo, 7, 'send under a missing parent');
    assert.match(
      typo.stderr,
      /^ferry: PATH_NOT_FOUND: .*127\.0\.0\.1:\d+\/tpyo\/deep: no such directory on the server; add --mkdir to create it$/m,
    );
    assert.deepEqual(await listTree(root), before, 'nothing was created on the server');
    assertExit(await ferry('send', '--mkdir', a, `${server.address}/tpyo/deep/a.txt`), 0, 'send --mkdir');
    assert.equal(await readFile(join(root, 'tpyo', 'deep', 'a.txt'), 'utf8'), 'aaa');
  });

  test('several sources or a trailing / need a directory: missing is an error unless --mkdir, a file is refused', async () => {
    const several = await ferry('send', a, b, `${server.address}/pair`);
    assertExit(several, 7, 'several sources into a missing directory');
    assert.match(
      several.stderr,
      /PATH_NOT_FOUND: .*\/pair: no such directory on the server; add --mkdir to create it$/m,
    );
    const slash = await ferry('send', a, `${server.address}/slashed/`);
    assertExit(slash, 7, 'trailing slash, missing directory');
    await assert.rejects(stat(join(root, 'slashed')), { code: 'ENOENT' });
    assertExit(await ferry('send', '--mkdir', a, b, `${server.address}/pair`), 0, 'several with --mkdir');
    assert.deepEqual((await readdir(join(root, 'pair'))).sort(), ['a.txt', 'b.txt']);
    assertExit(
      await ferry('send', '--mkdir', a, `${server.address}/slashed/`),
      0,
      'trailing slash with --mkdir',
    );
    assert.deepEqual(await readdir(join(root, 'slashed')), ['a.txt']);
    const onFile = await ferry('send', a, b, `${server.address}/renamed.txt`);
    assertExit(onFile, 2, 'several sources onto a file');
    assert.match(onFile.stderr, /USAGE_INVALID: .*\/renamed\.txt is a file on the server, not a directory/);
  });

  test('send -r DIR HOST/new-name stores the tree as new-name, and into an existing directory under its own name', async () => {
    const tree = join(dir, 'album');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'sub', 'x.txt'), 'x');
    assertExit(await ferry('send', '-r', tree, `${server.address}/backup`), 0, 'send -r as a new name');
    assert.deepEqual(await listTree(join(root, 'backup')), ['sub/', 'sub/x.txt']);
    assertExit(await ferry('send', '-r', tree, `${server.address}/backup`), 0, 'send -r into it');
    assert.deepEqual(await listTree(join(root, 'backup', 'album')), ['sub/', 'sub/x.txt']);
  });

  test('get HOST/f LOCAL stores the file as LOCAL when LOCAL is not a directory, and into it when it is', async () => {
    const out = join(dir, 'get-out');
    await mkdir(out);
    assertExit(await ferry('get', `${server.address}/renamed.txt`, join(out, 'local.txt')), 0, 'get as');
    assertExit(await ferry('get', `${server.address}/renamed.txt`, out), 0, 'get into');
    assert.deepEqual((await readdir(out)).sort(), ['local.txt', 'renamed.txt']);
    assert.equal(await readFile(join(out, 'local.txt'), 'utf8'), 'aaa');
  });

  test('a failed get creates nothing locally, and a missing local directory needs --mkdir', async () => {
    const fresh = join(dir, 'fresh', 'nested');
    const missing = await ferry('get', '--mkdir', `${server.address}/no-such.txt`, `${fresh}/`);
    assertExit(missing, 7, 'get of a missing remote file');
    assert.match(
      missing.stderr,
      /^ferry: PATH_NOT_FOUND: no such file or directory: 127\.0\.0\.1:\d+\/no-such\.txt/m,
    );
    await assert.rejects(
      stat(join(dir, 'fresh')),
      { code: 'ENOENT' },
      'the directories --mkdir made are gone again',
    );

    const noParent = await ferry('get', `${server.address}/renamed.txt`, join(fresh, 'x.txt'));
    assertExit(noParent, 7, 'get into a missing local directory');
    assert.ok(
      noParent.stderr.includes(`${fresh}: no such directory on this machine; add --mkdir to create it\n`),
      noParent.stderr,
    );
    assertExit(
      await ferry('get', '--mkdir', `${server.address}/renamed.txt`, join(fresh, 'x.txt')),
      0,
      'get --mkdir',
    );
    assert.equal(await readFile(join(fresh, 'x.txt'), 'utf8'), 'aaa');
  });

  test('durations take units on every flag, and a bad one names its flag', async () => {
    const ok = await ferry(
      'ls',
      server.address,
      '--connect-timeout',
      '10s',
      '--stall-timeout',
      '1m',
      '--retry-delay',
      '250ms',
    );
    assertExit(ok, 0, 'ls with unit durations');
    const bad = await ferry('ls', server.address, '--stall-timeout', '5 minutes');
    assertExit(bad, 2, 'a duration that is not one');
    assert.match(bad.stderr, /^ferry: USAGE_INVALID: .*--stall-timeout takes a duration like 500ms, 30s/m);
  });

  test('ls -h prints human sizes and ls --json lines carry v like the other JSON streams', async () => {
    await writeFile(join(root, 'inbox', 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 512 * 1024));
    const human = await ferry('ls', '-h', `${server.address}/inbox`);
    assertExit(human, 0, 'ls -h');
    assert.match(human.stdout, /^-\S+\s+3\.50 MiB .* big\.bin$/m);
    const json = await ferry('ls', '--json', `${server.address}/inbox`);
    assertExit(json, 0, 'ls --json');
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.equal(line['v'], 1, JSON.stringify(line));
    assert.deepEqual(
      lines.find((line) => line['path'] === 'big.bin')?.['size'],
      3 * 1024 * 1024 + 512 * 1024,
    );
  });
});
