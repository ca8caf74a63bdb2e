// End to end: `ferry sync --exclude PATTERN` and `--exclude-from FILE`, both ways, the real CLI against a
// real `ferry serve` on loopback. What a pattern matches is neither sent nor shown by `-n`, an excluded local
// directory is not read (a name in it that the wire cannot carry would otherwise be reported, exit 7), and
// what a pattern matches in DST survives `--delete`, as rsync's excluded names do. The matcher's cases are
// in test/client/sync-exclude.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The lines of a dry run that say what it would do. */
const wouldLines = (result: CliResult): string[] =>
  result.stderr.split('\n').filter((line) => line.startsWith('would '));

const CONFLICT =
  "conflict cache: an excluded directory is in the way (a pattern ending in / excludes directories only, not SRC's file; --delete keeps it)";

/** SRC: a file `cache` and `keep.txt`; DST: a directory `cache` holding `inner`. */
async function makeFileAndDirectory(src: string, dst: string): Promise<void> {
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'cache'), 'a file named cache');
  await writeFile(join(src, 'keep.txt'), 'keep');
  await mkdir(join(dst, 'cache'), { recursive: true });
  await writeFile(join(dst, 'cache', 'inner'), 'in the excluded directory');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('sync --exclude', () => {
  let dir: string;
  let root: string;
  let rig: AdmittedCli;

  const sync = (...args: string[]): Promise<CliResult> =>
    runFerry(['--home', rig.clientHome, 'sync', ...args, '--expect', rig.serverId]);

  before(async () => {
    dir = await makeTempDir('ferry-e2e-sync-exclude-');
    root = join(dir, 'root');
    await mkdir(root);
    rig = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
  });

  after(async () => {
    await rig.server.stop();
    await removeTempDir(dir);
  });

  test('up: excluded entries are neither sent nor listed by -n, and survive --delete on the server', async () => {
    const src = join(dir, 'up-src');
    await mkdir(join(src, 'build'), { recursive: true });
    await mkdir(join(src, 'sub', 'build'), { recursive: true });
    await mkdir(join(src, 'sub', 'cache'), { recursive: true });
    await writeFile(join(src, 'keep.txt'), 'keep');
    await writeFile(join(src, 'a.log'), 'log');
    await writeFile(join(src, 'build', 'out.bin'), 'out');
    // Read by a walk, this name would be reported as one the wire cannot carry, and the run exit 7.
    await writeFile(join(src, 'build', 'bad\x1b.txt'), 'x');
    await writeFile(join(src, 'sub', 'build', 'kept.txt'), 'anchored patterns match at the top only');
    await writeFile(join(src, 'sub', 'cache', 'c.bin'), 'cache');
    await writeFile(join(src, 'sub', 'cache.txt'), 'a file: `cache/` matches directories only');
    const patterns = join(dir, 'patterns');
    await writeFile(patterns, '# what the build leaves\n/build/\n\ncache/\n');
    const args = [src, `${rig.server.address}/m`, '--exclude', '*.log', '--exclude-from', patterns];

    const dry = await sync(...args, '-n');
    assertExit(dry, 0, 'sync -n');
    assert.deepEqual(wouldLines(dry).sort(), [
      'would send keep.txt (new, 4 B)',
      'would send sub/build/kept.txt (new, 39 B)',
      'would send sub/cache.txt (new, 41 B)',
    ]);
    assert.doesNotMatch(dry.stderr, /a\.log|out\.bin|bad|c\.bin/);

    assertExit(await sync(...args), 0, 'sync');
    assert.deepEqual(await listTree(join(root, 'm')), [
      'keep.txt',
      'sub/',
      'sub/build/',
      'sub/build/kept.txt',
      'sub/cache.txt',
    ]);

    // The server's DST holds an excluded file and directory, and a file SRC lacks.
    await writeFile(join(root, 'm', 'server.log'), 'server');
    await mkdir(join(root, 'm', 'build'));
    await writeFile(join(root, 'm', 'build', 'old.bin'), 'old');
    await writeFile(join(root, 'm', 'gone.txt'), 'gone');
    const deleting = await sync(...args, '--delete', '-n');
    assertExit(deleting, 0, 'sync --delete -n');
    assert.deepEqual(wouldLines(deleting), ['would delete gone.txt']);
    assertExit(await sync(...args, '--delete'), 0, 'sync --delete');
    assert.deepEqual(await listTree(join(root, 'm')), [
      'build/',
      'build/old.bin',
      'keep.txt',
      'server.log',
      'sub/',
      'sub/build/',
      'sub/build/kept.txt',
      'sub/cache.txt',
    ]);
  });

  test('down: excluded entries are not received, and local ones survive --delete', async () => {
    await mkdir(join(root, 'd', 'build'), { recursive: true });
    await mkdir(join(root, 'd', 'docs', 'deep'), { recursive: true });
    await writeFile(join(root, 'd', 'keep.txt'), 'keep');
    await writeFile(join(root, 'd', 'x.log'), 'log');
    await writeFile(join(root, 'd', 'build', 'y.bin'), 'y');
    await writeFile(join(root, 'd', 'docs', 'deep', 'n.tmp'), 'tmp');
    await writeFile(join(root, 'd', 'docs', 'deep', 'n.md'), 'md');
    const dst = join(dir, 'down-dst');
    await mkdir(join(dst, 'build'), { recursive: true });
    await writeFile(join(dst, 'local.log'), 'mine');
    await writeFile(join(dst, 'build', 'mine.bin'), 'mine');
    await writeFile(join(dst, 'extra.txt'), 'extra');
    const args = [
      `${rig.server.address}/d`,
      dst,
      '--delete',
      '--exclude',
      '*.log',
      '--exclude',
      '/build/',
      '--exclude',
      'docs/**.tmp',
    ];

    const dry = await sync(...args, '-n');
    assertExit(dry, 0, 'sync down -n');
    assert.deepEqual(wouldLines(dry).sort(), [
      'would delete extra.txt',
      'would receive docs/deep/n.md (new, 2 B)',
      'would receive keep.txt (new, 4 B)',
    ]);

    assertExit(await sync(...args), 0, 'sync down');
    assert.deepEqual(await listTree(dst), [
      'build/',
      'build/mine.bin',
      'docs/',
      'docs/deep/',
      'docs/deep/n.md',
      'keep.txt',
      'local.log',
    ]);
  });

  test('send -r and get -r take the same patterns, relative to each tree; without -r they are refused', async () => {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'build'), { recursive: true });
    await mkdir(join(tree, 'sub', 'build'), { recursive: true });
    await writeFile(join(tree, 'keep.txt'), 'keep');
    await writeFile(join(tree, 'a.log'), 'log');
    await writeFile(join(tree, 'build', 'bad\x1b.txt'), 'x');
    await writeFile(join(tree, 'sub', 'build', 'b.txt'), 'b');
    const client = ['--home', rig.clientHome];
    const address = rig.server.address;
    const sent = await runFerry([
      ...client,
      'send',
      '-r',
      tree,
      `${address}/`,
      '--exclude',
      '*.log',
      '--exclude',
      '/build/',
      '--expect',
      rig.serverId,
    ]);
    assertExit(sent, 0, 'send -r --exclude');
    assert.deepEqual(await listTree(join(root, 'tree')), [
      'keep.txt',
      'sub/',
      'sub/build/',
      'sub/build/b.txt',
    ]);

    const back = join(dir, 'tree-back');
    const got = await runFerry([...client, 'get', '-r', `${address}/tree`, back, '--exclude', 'build/']);
    assertExit(got, 0, 'get -r --exclude');
    assert.deepEqual(await listTree(back), ['keep.txt', 'sub/']);

    const plain = await runFerry([
      ...client,
      'send',
      join(tree, 'keep.txt'),
      `${address}/`,
      '--exclude',
      'x',
    ]);
    assertExit(plain, 2, 'send --exclude without -r');
    assert.equal(
      plain.stderr,
      'ferry: USAGE_INVALID: invalid usage: --exclude and --exclude-from filter trees; add -r\n',
    );
  });

  test('sync, send and get --help show the flags without an empty default', async () => {
    for (const command of ['sync', 'send', 'get']) {
      const help = await runFerry([command, '--help']);
      assertExit(help, 0, `${command} --help`);
      assert.match(help.stdout, /--exclude <pattern> +leave out the entries PATTERN matches/);
      assert.match(help.stdout, /--exclude-from <file>/);
      assert.doesNotMatch(help.stdout, /default: \[\]/);
    }
    // --delete's line says what --exclude matches is never removed (the in-the-way test above: not even for
    // SRC's own entry of that path, which a hostile server could name to have it removed).
    const sync = await runFerry(['sync', '--help']);
    assert.match(sync.stdout.replace(/\s+/g, ' '), /what --exclude matches always stays/);
  });

  test('a pattern that names nothing, and a missing --exclude-from file, are refused before connecting', async () => {
    const src = join(dir, 'up-src');
    const empty = await runFerry(['--home', rig.clientHome, 'sync', src, '127.0.0.1:1/m', '--exclude', '']);
    assertExit(empty, 2, 'empty pattern');
    assert.match(empty.stderr, /^ferry: USAGE_INVALID: .*an exclude pattern must name something, not ""\n$/);
    const missing = join(dir, 'no-such-patterns');
    const noFile = await runFerry([
      '--home',
      rig.clientHome,
      'sync',
      src,
      '127.0.0.1:1/m',
      '--exclude-from',
      missing,
    ]);
    assert.match(noFile.stderr, new RegExp(`PATH_NOT_FOUND: .*${missing}`));
    assert.doesNotMatch(noFile.stderr, /connect/);
  });
  // A directory-only pattern (`cache/`) leaves out DST's directory `cache` but not SRC's file `cache`. As in
  // rsync (its exclude protects DST's names from removal as extraneous, not from making way for SRC's own
  // entry: "cannot delete non-empty directory: cache / could not make way for new regular file: cache", exit
  // 23; with --delete the directory goes with what it holds), the file meets the directory: without --delete
  // a conflict saying why, SYNC_CONFLICT (exit 8), the other files still sent and the directory kept; with
  // --delete the directory is replaced by the file.
  for (const direction of ['up', 'down'] as const) {
    test(`${direction}: a conflict, with --delete or not: the excluded directory is kept`, async () => {
      const local = join(dir, `in-the-way-${direction}`);
      const remote = join(root, `in-the-way-${direction}`);
      if (direction === 'up') await makeFileAndDirectory(local, remote);
      else await makeFileAndDirectory(remote, local);
      const dst = direction === 'up' ? remote : local;
      const sides =
        direction === 'up'
          ? [local, `${rig.server.address}/in-the-way-${direction}`]
          : [`${rig.server.address}/in-the-way-${direction}`, local];

      const dry = await sync(...sides, '--exclude', 'cache/', '-n');
      assertExit(dry, 0, 'sync -n');
      assert.match(dry.stderr, new RegExp(`^would ${escapeRegExp(CONFLICT)}$`, 'm'));

      const refused = await sync(...sides, '--exclude', 'cache/');
      assertExit(refused, 8, 'sync without --delete');
      assert.match(refused.stderr, new RegExp(`^${escapeRegExp(CONFLICT)}$`, 'm'));
      assert.match(refused.stderr, /^ferry: SYNC_CONFLICT: /m);
      assert.deepEqual(await listTree(dst), ['cache/', 'cache/inner', 'keep.txt'], 'the directory is kept');

      // Excluded, so never removed, --delete or not (SECURITY.md stop 36: a hostile server down names a file).
      const kept = await sync(...sides, '--exclude', 'cache/', '--delete');
      assertExit(kept, 8, 'sync --delete');
      assert.match(kept.stderr, new RegExp(`^${escapeRegExp(CONFLICT)}$`, 'm'));
      assert.deepEqual(await listTree(dst), ['cache/', 'cache/inner', 'keep.txt'], 'the directory is kept');
      assert.equal(await readFile(join(dst, 'cache', 'inner'), 'utf8'), 'in the excluded directory');
    });
  }
});
