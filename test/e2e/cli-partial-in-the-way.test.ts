// End to end: a download whose partial's names (`.NAME.ferry-part`, `.NAME.ferry-state`) hold something ferry
// did not make: a directory, a file of the user's, a link, a data file with no state beside it. ferry never
// reuses or removes it, so `--overwrite` (FILE_EXISTS' advice) would not help: every path that meets one
// (`get` of a file, `get --overwrite`, `get -r`, a sync down) says STATE_FILE_IN_THE_WAY, names the one to
// remove, and leaves it as it was. Real `ferry` processes on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

describe('a partial ferry did not make is named for removal, never answered with --overwrite', () => {
  let dir: string;
  let clientHome: string;
  let serverId: string;
  let server: ServeProcess | undefined;
  let cases = 0;

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0']);
  }

  /** A fresh destination directory for one case. */
  async function destination(): Promise<string> {
    const made = join(dir, `dest-${++cases}`);
    await mkdir(made);
    return made;
  }

  /** Exit 8, STATE_FILE_IN_THE_WAY naming `inTheWay` to remove, no `--overwrite` advice. */
  function assertNamesForRemoval(result: CliResult, inTheWay: string, what: string): void {
    assertExit(result, 8, what);
    assert.match(result.stderr, /^ferry: STATE_FILE_IN_THE_WAY: /m, `${what}:\n${result.stderr}`);
    assert.ok(
      result.stderr.includes(`remove ${inTheWay} `),
      `${what}: says what to remove:\n${result.stderr}`,
    );
    assert.doesNotMatch(result.stderr, /--overwrite|FILE_EXISTS/, `${what}: wrong advice:\n${result.stderr}`);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-partial-in-the-way-');
    const root = join(dir, 'root');
    await mkdir(join(root, 'tree', 'sub'), { recursive: true });
    // Larger than a batch's small file, so it travels alone with a partial of its own.
    await writeRandomFile(join(root, 'big.bin'), 300_000);
    await writeRandomFile(join(root, 'tree', 'sub', 'big.bin'), 300_000);
    ({ clientHome, serverId, server } = await startAdmittedServe(dir, root, ['--log-level', 'warn']));
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('get FILE DIR: a directory, a file of the user, a link or a lone data file where the partial goes', async () => {
    const kinds: [string, 'ferry-part' | 'ferry-state', (path: string) => Promise<void>][] = [
      ['a directory as the data file', 'ferry-part', (path) => mkdir(path)],
      ['a directory as the state file', 'ferry-state', (path) => mkdir(path)],
      ['a file of the user as the state file', 'ferry-state', (path) => writeFile(path, 'my notes\n')],
      ['a data file with no state beside it', 'ferry-part', (path) => writeFile(path, 'my data\n')],
      ['a link as the state file', 'ferry-state', (path) => symlink(join(dir, 'elsewhere'), path)],
    ];
    for (const [what, suffix, make] of kinds) {
      const dest = await destination();
      const inTheWay = join(dest, `.big.bin.${suffix}`);
      await make(inTheWay);
      const before = await lstat(inTheWay);
      const result = await ferry('get', `${server!.address}/big.bin`, dest);
      assertNamesForRemoval(result, inTheWay, what);
      assert.ok(result.stderr.includes(join(dest, 'big.bin')), `${what}: names the file asked for`);
      const after = await lstat(inTheWay);
      assert.equal(after.ino, before.ino, `${what}: left as it was`);
      if (after.isFile()) assert.match(await readFile(inTheWay, 'utf8'), /^my /, `${what}: content kept`);
      if (after.isSymbolicLink()) assert.equal(await readlink(inTheWay), join(dir, 'elsewhere'));
      await assert.rejects(lstat(join(dest, 'big.bin')), { code: 'ENOENT' }, `${what}: nothing placed`);
    }
  });

  test('get --overwrite of a changed file: --overwrite was given, the file in the way is still named', async () => {
    const dest = await destination();
    await writeFile(join(dest, 'big.bin'), 'an older version\n');
    const inTheWay = join(dest, '.big.bin.ferry-part');
    await mkdir(inTheWay);
    const result = await ferry('get', '--overwrite', `${server!.address}/big.bin`, dest);
    assertNamesForRemoval(result, inTheWay, 'get --overwrite');
    assert.equal(await readFile(join(dest, 'big.bin'), 'utf8'), 'an older version\n', 'the old file is kept');
  });

  test('get -r and a sync down name it in the failed line, the summary and the error, with --json too', async () => {
    const dest = await destination();
    const inTheWay = join(dest, 'tree', 'sub', '.big.bin.ferry-state');
    await mkdir(join(dest, 'tree', 'sub'), { recursive: true });
    await writeFile(inTheWay, 'my notes\n');
    const tree = await ferry('get', '-r', `${server!.address}/tree`, dest);
    assertNamesForRemoval(tree, inTheWay, 'get -r');
    assert.match(tree.stderr, /^not received: .*big\.bin STATE_FILE_IN_THE_WAY$/m, tree.stderr);

    const sync = await ferry('sync', `${server!.address}/tree`, join(dest, 'tree'));
    assertNamesForRemoval(sync, inTheWay, 'sync down');

    const json = await ferry('get', '-r', '--json', `${server!.address}/tree`, dest);
    assertExit(json, 8, 'get -r --json');
    const failed = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; code?: string; message?: string })
      .find((event) => event.type === 'transfer-failed');
    assert.equal(failed?.code, 'STATE_FILE_IN_THE_WAY', json.stdout);
    assert.ok(failed?.message?.includes(`remove ${inTheWay} `), json.stdout);
    assert.equal(await readFile(inTheWay, 'utf8'), 'my notes\n', 'the file in the way is untouched');
  });
});
