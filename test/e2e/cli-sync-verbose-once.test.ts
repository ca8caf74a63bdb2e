// End to end: `sync -v` names each file it transfers once, as rsync -v does: the transfer's own line once the
// receiver verified it (`tree/a.txt -> m/a.txt (5 B, sent) digest ...`). The plan's `send a.txt (new, 5 B)`
// came first as well, so every file was said twice (a new user's pass); a dry run still lists the plan.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const NAMES = ['a.txt', 'sub/b.txt'];

describe('sync -v', () => {
  let dir: string;
  let rig: AdmittedCli;
  let src: string;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-sync-verbose-');
    rig = await startAdmittedServe(dir, join(dir, 'root'), ['--log-level', 'warn']);
    src = join(dir, 'tree');
    await mkdir(join(src, 'sub'), { recursive: true });
    for (const name of NAMES) await writeFile(join(src, name), `${name}\n`);
  });

  after(async () => {
    await rig.server.stop();
    await removeTempDir(dir);
  });

  const sync = (...args: string[]): ReturnType<typeof runFerry> =>
    runFerry([
      '--home',
      rig.clientHome,
      'sync',
      src,
      `${rig.server.address}/m`,
      '--expect',
      rig.serverId,
      ...args,
    ]);

  test('a dry run lists each file it would send; the real run names each file once, when verified', async () => {
    const dry = await sync('-n', '-v');
    assertExit(dry, 0, 'sync -n -v');
    for (const name of NAMES) assert.match(dry.stderr, new RegExp(`^would send ${name} \\(new, `, 'm'));

    const real = await sync('-v');
    assertExit(real, 0, 'sync -v');
    for (const name of NAMES) {
      const lines = real.stderr.split('\n').filter((line) => line.includes(name));
      assert.equal(lines.length, 1, real.stderr);
      assert.match(
        lines[0]!,
        new RegExp(`-> m/${name} \\(\\d+ B, sent\\) digest [0-9a-f]{16}$`),
        real.stderr,
      );
    }
  });
});
