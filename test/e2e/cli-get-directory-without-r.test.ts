// End to end: `ferry get HOST/photos` without -r, where photos is a directory on the server, says "add -r"
// also when a directory of that name is already here (an earlier `get -r` of it): that one was reported as
// "file system error: /abs/photos: is a directory (eisdir)", the -r never mentioned.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let rig: AdmittedCli;

before(async () => {
  dir = await makeTempDir('ferry-e2e-get-dir-without-r-');
  await mkdir(join(dir, 'root', 'photos'), { recursive: true });
  await writeFile(join(dir, 'root', 'photos', 'cat.jpg'), 'cat');
  rig = await startAdmittedServe(dir, join(dir, 'root'), ['--log-level', 'warn']);
});

after(async () => {
  await rig.server.stop();
  await removeTempDir(dir);
});

test('get of a remote directory without -r says add -r, whether or not a directory of its name is here', async () => {
  const here = join(dir, 'here');
  await mkdir(here);
  const get = (): ReturnType<typeof runFerry> =>
    runFerry(['--home', rig.clientHome, 'get', `${rig.server.address}/photos`, '--expect', rig.serverId], {
      cwd: here,
    });
  const expected = `ferry: USAGE_INVALID: invalid usage: ${rig.server.address}/photos: is a directory on the server; add -r to get it as a tree\n`;
  const first = await get();
  assertExit(first, 2, 'get photos without -r');
  assert.equal(first.stderr, expected);
  await mkdir(join(here, 'photos'));
  const again = await get();
  assertExit(again, 2, 'get photos without -r, photos/ here');
  assert.equal(again.stderr, expected);
});
