// End to end: `send` whose destination is a directory on the server (`send a.txt HOST/dir/` where dir/a.txt is
// a directory). The server refuses it as PATH_INVALID `destination is a directory`, which the CLI printed as
// "path is not a valid relative path" of a valid path, exit 7. It now says what a download says of a local
// directory in the way: IO_ERROR, is a directory (exit 9, README "Exit codes"), which `--overwrite` does not
// change; the directory is left as it was, and the other files of the run are still sent.
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
        `ferry: IO_ERROR: file system error: ${named}: is a directory (eisdir), which ferry never replaces by a file (from the server)\n`,
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
