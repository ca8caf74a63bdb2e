// End to end: what an rsync or scp user types out of habit. `ferry sync -av SRC DST` is refused (ferry takes
// no -a: it always keeps what rsync -a keeps), but the refusal says so instead of only "unknown option"; scp's
// `-P PORT` says where the port goes. `sync -v` lists an unchanged directory as rsync -v does (`d/`, and
// SRC's top `./`), never as an empty name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('rsync and scp habits', () => {
  let dir: string;
  let rig: AdmittedCli;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-habits-');
    rig = await startAdmittedServe(dir, join(dir, 'root'), ['--log-level', 'warn']);
  });

  after(async () => {
    await rig.server.stop();
    await removeTempDir(dir);
  });

  test('sync -av and send -P are refused with what ferry does instead, before connecting', async () => {
    const av = await runFerry(['--home', rig.clientHome, 'sync', '-av', 'src', `${rig.server.address}/m`]);
    assertExit(av, 2, 'sync -av');
    assert.equal(
      av.stderr,
      "ferry: USAGE_INVALID: unknown option '-av' (ferry sync always keeps modes, mtimes, links and empty directories, as rsync -a does: leave out -a); see `ferry sync --help`\n",
    );
    const port = await runFerry(['--home', rig.clientHome, 'send', '-P', '2222', 'f', '127.0.0.1/']);
    assertExit(port, 2, 'send -P');
    assert.equal(
      port.stderr,
      "ferry: USAGE_INVALID: unknown option '-P' (the port goes in the address: HOST:PORT/PATH; partial files are always kept and progress shown (rsync -P): leave it out); see `ferry send --help`\n",
    );
  });

  test('sync -v names unchanged directories with a trailing slash, the top one ./', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    await writeFile(join(src, 'd', 'b.txt'), 'b');
    const args = ['--home', rig.clientHome, 'sync', src, `${rig.server.address}/m`, '--expect', rig.serverId];
    assertExit(await runFerry(args), 0, 'first sync');
    const again = await runFerry([...args, '-v', '--checksum']);
    assertExit(again, 0, 'sync -v again');
    const skips = again.stderr.split('\n').filter((line) => line.startsWith('skip '));
    assert.deepEqual(skips.sort(), [
      'skip ./ (unchanged)',
      'skip d/ (unchanged)',
      'skip d/b.txt (unchanged)',
    ]);
  });
});
