// End to end: small files of `send -r` travel in batches (PROTOCOL.md §5.14), whose answer carries a code per
// file and nothing else. A file sent onto a directory on the server, or under a file where its path needs a
// directory, was printed as PATH_INVALID "path is not a valid relative path" of a valid path (exit 7), where
// the same file sent alone says IO_ERROR is a directory / not a directory naming HOST:PORT/path (exit 9). Such
// a file is now asked again alone once no batch is in flight (no wire change: the server still sends no path),
// and says what the one-file path says; the other files of the batch are still sent, each failure once.
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
  dir = await makeTempDir('ferry-e2e-send-batch-onto-directory-');
  root = join(dir, 'root');
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'sub'), { recursive: true });
  for (const name of ['a.txt', 'b.txt', 'c.txt', 'sub/f', 'sub/g'])
    await writeFile(join(tree, name), `${name}\n`);
  await mkdir(join(root, 'tree', 'b.txt', 'inside'), { recursive: true });
  await writeFile(join(root, 'tree', 'sub'), 'a file where the tree has a directory\n');
  ({ clientHome, serverId, server } = await startAdmittedServe(dir, root, ['--log-level', 'warn']));
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

function send(...args: string[]): Promise<CliResult> {
  return runFerry(['--home', clientHome, 'send', ...args, '--expect', serverId, '--retries', '0']);
}

test('a batched file onto a directory, or under a file, says what the one-file path says', async () => {
  const at = (path: string): string => `${server!.address}/${path}`;
  for (const flags of [[], ['--overwrite']]) {
    const result = await send('-r', ...flags, join(dir, 'tree'), server!.address);
    const which = `send -r ${flags.join(' ')}:\n${result.stderr}`;
    assertExit(result, 9, which);
    assert.ok(
      result.stderr.includes(
        `b.txt IO_ERROR: file system error: ${at('tree/b.txt')}: is a directory (eisdir), which ferry never replaces by a file\n`,
      ),
      which,
    );
    for (const name of ['f', 'g'])
      assert.ok(
        result.stderr.includes(
          `sub/${name} IO_ERROR: file system error: ${at('tree/sub')}: not a directory (enotdir)\n`,
        ),
        which,
      );
    assert.doesNotMatch(result.stderr, /PATH_INVALID|not a valid relative path|component \d/, which);
  }
  assert.deepEqual(await readdir(join(root, 'tree', 'b.txt')), ['inside'], 'the directory is left as it was');
  assert.equal(await readFile(join(root, 'tree', 'a.txt'), 'utf8'), 'a.txt\n');
  assert.equal(await readFile(join(root, 'tree', 'c.txt'), 'utf8'), 'c.txt\n');
});

test('--json: each such file fails once, with the one-file code and message', async () => {
  const result = await send('-r', '--json', join(dir, 'tree'), server!.address);
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
      ['tree/b.txt', 'IO_ERROR'],
      ['tree/sub/f', 'IO_ERROR'],
      ['tree/sub/g', 'IO_ERROR'],
    ],
    result.stdout,
  );
  const summary = events.at(-1) as { type: string; code?: string; failed?: number };
  assert.equal(summary.type, 'summary');
  assert.equal(summary.code, 'IO_ERROR');
});
