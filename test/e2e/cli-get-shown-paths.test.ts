// End to end: a download names its local file as the user wrote the destination (`a.txt -> out/a.txt`), as
// `send` names its source, in the CLI's lines and in `--json` events, for `get`, `get -r` and a sync down; and
// a download refused for want of room says its sizes as every other size the CLI shows (`2.00 MiB`), not in
// raw bytes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('download paths as typed', () => {
  let dir: string;
  let rig: AdmittedCli;

  const ferry = (...args: string[]): Promise<CliResult> =>
    runFerry(['--home', rig.clientHome, ...args, '--expect', rig.serverId], { cwd: dir });

  before(async () => {
    dir = await makeTempDir('ferry-e2e-shown-paths-');
    const root = join(dir, 'root');
    await mkdir(join(root, 't'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'aaa');
    await writeFile(join(root, 't', 'b.txt'), 'bb');
    await writeFile(join(root, 'big.bin'), randomBytes(2 * 1024 * 1024));
    rig = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
    await mkdir(join(dir, 'out'));
  });

  after(async () => {
    await rig.server.stop();
    await removeTempDir(dir);
  });

  test('get, get -r and a sync down name the local file under the destination as written', async () => {
    const address = rig.server.address;
    const one = await ferry('get', `${address}/a.txt`, 'out/');
    assertExit(one, 0, 'get');
    assert.match(one.stderr, /^a\.txt -> out\/a\.txt \(/m);
    assert.doesNotMatch(one.stderr, new RegExp(dir));

    const renamed = await ferry('get', `${address}/a.txt`, 'out/renamed.txt', '--json');
    assertExit(renamed, 0, 'get as a new name');
    const finished = renamed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; file?: string })
      .find((e) => e.type === 'transfer-finished');
    assert.equal(finished?.file, 'out/renamed.txt');

    const tree = await ferry('get', '-r', `${address}/t`, 'out', '-v');
    assertExit(tree, 0, 'get -r');
    assert.match(tree.stderr, /^t\/b\.txt -> out\/t\/b\.txt \(/m);

    const here = await ferry('get', `${address}/t/b.txt`);
    assertExit(here, 0, 'get into the working directory');
    assert.match(here.stderr, /^t\/b\.txt -> b\.txt \(/m);

    const synced = await ferry('sync', `${address}/t`, 'mirror', '-v');
    assertExit(synced, 0, 'sync down');
    assert.match(synced.stderr, /^t\/b\.txt -> mirror\/b\.txt \(/m);
  });

  // A real ENOSPC needs a small file system: a tmpfs, which needs root (mountSmallFilesystem fails saying so).
  test('a download refused for want of room says the sizes in binary units', async (t) => {
    const small = await mountSmallFilesystem(t, 1024 * 1024);
    const full = await runFerry(
      ['--home', rig.clientHome, 'get', `${rig.server.address}/big.bin`, small, '--expect', rig.serverId],
      { cwd: dir },
    );
    assertExit(full, 9, 'get onto a full file system');
    assert.match(
      full.stderr,
      /DISK_FULL: no space left on the device: .*: the file is 2\.00 MiB, 2\.00 MiB still to come, \d[\d.]* (B|KiB|MiB) free here\n$/,
    );
  });
});
