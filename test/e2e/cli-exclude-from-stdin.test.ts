// End to end: `--exclude-from -` reads the patterns from standard input, as rsync's does, for `sync`,
// `send -r` and `get -r`; the CLI is spawned with a pipe of its own on stdin (never the test runner's).
// `-` given twice is refused (stdin is read once); a terminal on stdin is refused in
// test/cli/exclude-flags.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const PATTERNS = '# from a pipe\n*.log\ncache/\n';

describe('--exclude-from - (standard input)', () => {
  let dir: string;
  let root: string;
  let src: string;
  let rig: AdmittedCli;

  const ferry = (args: string[], stdin?: string): Promise<CliResult> =>
    runFerry(
      ['--home', rig.clientHome, ...args, '--expect', rig.serverId],
      stdin === undefined ? {} : { stdin },
    );

  before(async () => {
    dir = await makeTempDir('ferry-e2e-exclude-stdin-');
    root = join(dir, 'root');
    await mkdir(root);
    rig = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
    src = join(dir, 'src');
    await mkdir(join(src, 'cache'), { recursive: true });
    await writeFile(join(src, 'keep.txt'), 'keep');
    await writeFile(join(src, 'a.log'), 'log');
    await writeFile(join(src, 'cache', 'c.bin'), 'cache');
  });

  after(async () => {
    await rig.server.stop();
    await removeTempDir(dir);
  });

  test('sync up, send -r and get -r leave out what the piped patterns match', async () => {
    const synced = await ferry(
      ['sync', src, `${rig.server.address}/synced`, '--exclude-from', '-'],
      PATTERNS,
    );
    assertExit(synced, 0, 'sync --exclude-from -');
    assert.deepEqual(await listTree(join(root, 'synced')), ['keep.txt']);

    const sent = await ferry(
      ['send', '-r', '--mkdir', src, `${rig.server.address}/sent/`, '--exclude-from', '-'],
      PATTERNS,
    );
    assertExit(sent, 0, 'send -r --exclude-from -');
    assert.deepEqual(await listTree(join(root, 'sent')), ['src/', 'src/keep.txt']);

    await writeFile(join(root, 'synced', 'server.log'), 'log');
    const local = join(dir, 'got');
    const got = await ferry(
      ['get', '-r', '--mkdir', `${rig.server.address}/synced`, `${local}/`, '--exclude-from', '-'],
      '*.log\n',
    );
    assertExit(got, 0, 'get -r --exclude-from -');
    assert.deepEqual(await listTree(local), ['synced/', 'synced/keep.txt']);
  });

  test('`--exclude-from -` twice is refused before connecting: standard input is read once', async () => {
    const twice = await ferry(
      ['sync', src, `${rig.server.address}/twice`, '--exclude-from', '-', '--exclude-from', '-'],
      PATTERNS,
    );
    assertExit(twice, 2, 'twice');
    assert.match(
      twice.stderr,
      /^ferry: USAGE_INVALID: .*--exclude-from - given 2 times: standard input is read once/m,
    );
    assert.deepEqual(await listTree(root).then((l) => l.filter((p) => p.startsWith('twice'))), []);
  });
});
