// End to end: `send` where the server holds an entry of the other kind: a directory where a file goes
// (`send a.txt HOST/dir/` where dir/a.txt is a directory), a file where `send -r` makes a directory. The
// server refuses them as PATH_INVALID (`destination is a directory`, `component N is not a directory`) and
// FILE_EXISTS (`a file is in the way of the directory`), which the CLI printed as "path is not a valid
// relative path" of a valid path, "component 2", and "use --overwrite" (which does not help). It now says
// what a download says of this machine: IO_ERROR, is a directory / not a directory, naming the entry in the
// way (exit 9, README "Exit codes"), with or without `--overwrite`; nothing is replaced, and the other files
// of the run are still sent.
//
// Small files of `send -r` travel in batches (PROTOCOL.md §5.14), whose answer carries a code per file and
// nothing else: such a file onto a directory, or under a file, said PATH_INVALID "path is not a valid relative
// path" (exit 7). It is now asked for again alone once no batch is in flight (no wire change: the server still
// sends no path) and says what the one-file path says; each failure is reported once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let root: string;
let clientHome: string;
let serverId: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-e2e-send-onto-directory-');
  root = join(dir, 'root');
  await mkdir(join(root, 'dir', 'a.txt', 'inside'), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'a\n');
  await writeFile(join(dir, 'b.txt'), 'b\n');
  await mkdir(join(dir, 'tree', 'sub'), { recursive: true });
  await writeFile(join(dir, 'tree', 'sub', 'f'), 'f\n');
  await mkdir(join(root, 'tree'));
  await writeFile(join(root, 'tree', 'sub'), 'a file where the tree has a directory\n');
  const batch = join(dir, 'batch');
  await mkdir(join(batch, 'sub'), { recursive: true });
  for (const name of ['a.txt', 'b.txt', 'c.txt', 'sub/f', 'sub/g'])
    await writeFile(join(batch, name), `${name}\n`);
  await mkdir(join(root, 'batch', 'b.txt', 'inside'), { recursive: true });
  await writeFile(join(root, 'batch', 'sub'), 'a file where the tree has a directory\n');
  ({ clientHome, serverId, server } = await startAdmittedServe(dir, root, ['--log-level', 'warn']));
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

function send(...args: string[]): Promise<CliResult> {
  return runFerry(['--home', clientHome, 'send', ...args, '--expect', serverId, '--retries', '0']);
}

test('send onto a directory on the server: IO_ERROR is a directory, not an invalid path; --overwrite alike', async () => {
  const named = `${server!.address}/dir/a.txt`;
  for (const flags of [[], ['--overwrite']]) {
    const result = await send(...flags, join(dir, 'a.txt'), `${server!.address}/dir/`);
    assertExit(result, 9, `send ${flags.join(' ')}`);
    assert.ok(
      result.stderr.endsWith(
        `ferry: IO_ERROR: file system error: ${named}: is a directory (eisdir) (from the server); ferry never replaces a directory by a file\n`,
      ),
      result.stderr,
    );
    assert.doesNotMatch(result.stderr, /not a valid relative path|PATH_INVALID/, result.stderr);
  }
  assert.deepEqual(await readdir(join(root, 'dir', 'a.txt')), ['inside'], 'the directory is left as it was');
});

test('one of several files onto a directory: the others are sent, the run names it and exits 9', async () => {
  const result = await send(join(dir, 'a.txt'), join(dir, 'b.txt'), `${server!.address}/dir/`);
  assertExit(result, 9, 'send of two files');
  assert.match(result.stderr, /^not sent: .*a\.txt IO_ERROR$/m, result.stderr);
  assert.equal(await readFile(join(root, 'dir', 'b.txt'), 'utf8'), 'b\n');
});

test('send -r of a directory where the server holds a file: not a directory, naming it, not component 2', async () => {
  const sub = `${server!.address}/tree/sub`;
  for (const flags of [[], ['--overwrite']]) {
    const result = await send('-r', ...flags, join(dir, 'tree'), server!.address);
    assertExit(result, 9, `send -r ${flags.join(' ')}`);
    const which = `send -r ${flags.join(' ')}:\n${result.stderr}`;
    assert.ok(
      result.stderr.includes(`IO_ERROR: file system error: ${sub}: not a directory (enotdir)\n`),
      which,
    );
    assert.ok(
      result.stderr.includes(
        `IO_ERROR: file system error: ${sub}: not a directory (enotdir): a file is in the way; send never replaces a file by a directory\n`,
      ),
      which,
    );
    assert.doesNotMatch(result.stderr, /component \d|not a valid relative path|use --overwrite/, which);
  }
  assert.equal(await readFile(join(root, 'tree', 'sub'), 'utf8'), 'a file where the tree has a directory\n');
});

test('a batched file onto a directory, or under a file, says what the one-file path says', async () => {
  const at = (path: string): string => `${server!.address}/${path}`;
  for (const flags of [[], ['--overwrite']]) {
    const result = await send('-r', ...flags, join(dir, 'batch'), server!.address);
    const which = `send -r ${flags.join(' ')}:\n${result.stderr}`;
    assertExit(result, 9, which);
    assert.ok(
      result.stderr.includes(
        `b.txt IO_ERROR: file system error: ${at('batch/b.txt')}: is a directory (eisdir); ferry never replaces a directory by a file\n`,
      ),
      which,
    );
    for (const name of ['f', 'g'])
      assert.ok(
        result.stderr.includes(
          `sub/${name} IO_ERROR: file system error: ${at('batch/sub')}: not a directory (enotdir)\n`,
        ),
        which,
      );
    assert.doesNotMatch(result.stderr, /PATH_INVALID|not a valid relative path|component \d/, which);
  }
  assert.deepEqual(
    await readdir(join(root, 'batch', 'b.txt')),
    ['inside'],
    'the directory is left as it was',
  );
  assert.equal(await readFile(join(root, 'batch', 'a.txt'), 'utf8'), 'a.txt\n');
  assert.equal(await readFile(join(root, 'batch', 'c.txt'), 'utf8'), 'c.txt\n');
});

test('--json: each such file fails once, with the one-file code and message', async () => {
  const result = await send('-r', '--json', join(dir, 'batch'), server!.address);
  assertExit(result, 9, 'send -r --json');
  const events = result.stdout
    .trim()
    .split('\n')
    .map(
      (line) => JSON.parse(line) as { type: string; remotePath?: string; code?: string; message?: string },
    );
  const failed = events.filter((event) => event.type === 'transfer-failed');
  assert.deepEqual(
    failed.map((event) => [event.remotePath, event.code]).sort(),
    [
      ['batch/b.txt', 'IO_ERROR'],
      ['batch/sub/f', 'IO_ERROR'],
      ['batch/sub/g', 'IO_ERROR'],
    ],
    result.stdout,
  );
  const summary = events.at(-1) as { type: string; code?: string; failed?: number };
  assert.equal(summary.type, 'summary');
  assert.equal(summary.code, 'IO_ERROR');
});
