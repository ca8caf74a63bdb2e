// End to end: a get -r (or a sync down) into a destination directory this user cannot write
// fails once, before any file starts, with one line naming what it had to create and the directory that
// refused it (as `scp -r` and rsync say it once), not one `failed:` line per file and a list of them all.
// An identical file already there needs no write: that get still succeeds. The client runs as a user file
// modes bind (root without CAP_DAC_OVERRIDE: `heedModes`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, EXIT_CODES } from '../../src/errors/index.js';
import { assertExit, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('a get into a directory that cannot be written fails once, early', () => {
  let dir: string;
  let clientHome: string;
  let serverId: string;
  let server: ServeProcess;
  let ro: string;
  const storageExit = EXIT_CODES[ERROR_CODES.IO_ERROR.category];

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0'], {
      heedModes: true,
    });
  }

  function assertOneLine(result: CliResult, created: string, what: string): void {
    assertExit(result, storageExit, what);
    assert.deepEqual(result.stderr.trimEnd().split('\n'), [
      `ferry: IO_ERROR: file system error: ${join(ro, created)}: permission denied (eacces): cannot create files in ${ro}`,
    ]);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-unwritable-');
    const root = join(dir, 'root');
    await mkdir(join(root, 'tree', 'sub'), { recursive: true });
    for (const name of ['one.txt', 'two.txt', 'three.txt', 'sub/four.txt'])
      await writeFile(join(root, 'tree', name), name);
    await writeFile(join(root, 'a.txt'), 'a');
    ro = join(dir, 'ro');
    await mkdir(ro);
    await writeFile(join(ro, 'a.txt'), 'a');
    await chmod(ro, 0o555);
    ({ clientHome, serverId, server } = await startAdmittedServe(dir, root, ['--log-level', 'warn']));
  });

  after(async () => {
    await server.stop();
    await chmod(ro, 0o755);
    await removeTempDir(dir);
  });

  test('get -r and a sync down each print one line and exit 9', async () => {
    assertOneLine(await ferry('get', '-r', `${server.address}/tree`, ro), 'tree', 'get -r');
    assertOneLine(await ferry('sync', `${server.address}/tree`, join(ro, 'mirror')), 'mirror', 'sync down');
    assert.deepEqual(await readdir(ro), ['a.txt'], 'nothing was made');
  });

  test('an identical file already there is still verified and left as it was', async () => {
    const same = await ferry('get', `${server.address}/a.txt`, ro);
    assertExit(same, 0, 'get of a file identical to the one in a read-only directory');
    // One file, in the singular: "1 already identical, left as they were" read as a slip.
    // "received 0 of 1 file, 6 B in 16 ms" read as a failed download: it says nothing was to receive.
    assert.match(
      same.stderr,
      /^nothing to receive: 1 file already identical, 1 B checked in [\d.]+ m?s, digest /m,
    );
  });

  test("a file the server does not have is refused with the server's reason, not ours", async () => {
    const missing = await ferry('get', '-r', `${server.address}/missing.txt`, ro);
    assertExit(missing, EXIT_CODES[ERROR_CODES.PATH_NOT_FOUND.category], 'get of a missing file');
    assert.match(
      missing.stderr,
      /^ferry: PATH_NOT_FOUND: .*missing\.txt \(from the server\); `ferry ls [^`]+` lists what is there$/m,
    );
    assert.doesNotMatch(missing.stderr, /IO_ERROR/);
  });
});
