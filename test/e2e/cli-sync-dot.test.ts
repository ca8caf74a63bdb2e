// End to end: `ferry sync . HOST/DIR` and `send -r . HOST/`, as rsync and scp users type them from inside the
// directory (and `..` from below it). The walk named the tree's top `.`, so every entry's path began with a
// `.` component the wire refuses: each was skipped as "name cannot be sent" and nothing went (exit 1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('sync . and send -r .', () => {
  let dir: string;
  let root: string;
  let proj: string;
  let rig: AdmittedCli;

  const ferry = (cwd: string, ...args: string[]): ReturnType<typeof runFerry> =>
    runFerry(['--home', rig.clientHome, ...args, '--expect', rig.serverId], { cwd });

  before(async () => {
    dir = await makeTempDir('ferry-e2e-sync-dot-');
    root = join(dir, 'root');
    await mkdir(root);
    rig = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
    proj = join(dir, 'proj');
    await mkdir(join(proj, 'sub'), { recursive: true });
    await writeFile(join(proj, 'a.txt'), 'a');
    await writeFile(join(proj, 'sub', 'b.txt'), 'b');
  });

  after(async () => {
    await rig.server.stop();
    await removeTempDir(dir);
  });

  test('sync . and sync .. send the directory they name', async () => {
    const address = rig.server.address;
    assertExit(await ferry(proj, 'sync', '.', `${address}/m`), 0, 'sync .');
    assert.deepEqual(await listTree(join(root, 'm')), ['a.txt', 'sub/', 'sub/b.txt']);
    assertExit(await ferry(join(proj, 'sub'), 'sync', '../', `${address}/m2`), 0, 'sync ../');
    assert.deepEqual(await listTree(join(root, 'm2')), ['a.txt', 'sub/', 'sub/b.txt']);
    // And back into the working directory.
    const back = join(dir, 'back');
    await mkdir(back);
    assertExit(await ferry(back, 'sync', `${address}/m`, '.'), 0, 'sync down into .');
    assert.deepEqual(await listTree(back), ['a.txt', 'sub/', 'sub/b.txt']);
  });

  test('send -r . sends the working directory under its own name', async () => {
    const sent = await ferry(proj, 'send', '-r', '.', `${rig.server.address}/`);
    assertExit(sent, 0, 'send -r .');
    assert.deepEqual(await listTree(join(root, 'proj')), ['a.txt', 'sub/', 'sub/b.txt']);
  });
});
