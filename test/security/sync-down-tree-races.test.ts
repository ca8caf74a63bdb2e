// `ferry sync HOST/SRC DST` changes DST itself before the download (sync-down.ts): a directory that replaces
// a file (--delete) is made there, and DST's own mode and mtime are set last. A local user who can write
// DST, or the folder it is in, swaps a directory on the way for a link to outside between the walk and the
// act: mkdir(2) by name follows it, and so does the open of DST whose attributes are set. Checked as the
// server's PUT_DIR is (`assertDirUnmoved`, `assertOpenedAt`): refused, nothing made or changed outside. The
// swap runs in the test hook (`beforeTreeWrite`) between the check and the act. Scripted server on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BeforeTreeWrite } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { HostileServer, dir, syncDownFrom, type HostileScript } from './hostile-server.js';

/** A work directory (real path) and a scripted server, both gone after the test. */
async function startRig(t: TestContext): Promise<{ work: string; hostile: HostileServer }> {
  const work = await makeTempDir('ferry-sync-down-races-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  return { work, hostile };
}

/** Syncs the script's tree down onto `dest` with --delete and `hook`; resolves to the run's error. */
function syncDown(
  hostile: HostileServer,
  script: HostileScript,
  dest: string,
  hook: BeforeTreeWrite,
): Promise<unknown> {
  hostile.script = script;
  return syncDownFrom(hostile, dest, { delete: true, beforeTreeWrite: hook });
}

/** A hook that, the first time at `step`, moves `dir` aside and puts a link to `to` in its place. */
function swapAt(step: string, dir: string, to: string): { hook: BeforeTreeWrite; swapped: () => boolean } {
  let swapped = false;
  const hook: BeforeTreeWrite = async (_path, at) => {
    if (at !== step || swapped) return;
    swapped = true;
    await rename(dir, `${dir}-was`);
    await symlink(to, dir);
  };
  return { hook, swapped: () => swapped };
}

test('sync down --delete making a directory in place of a file whose parent is swapped makes nothing outside', async (t) => {
  const { work, hostile } = await startRig(t);
  const dest = join(work, 'dest');
  const outside = join(work, 'outside');
  await mkdir(join(dest, 'a'), { recursive: true });
  await writeFile(join(dest, 'a', 'f'), 'f\n');
  await mkdir(outside);
  const { hook, swapped } = swapAt('walked', join(dest, 'a'), outside);
  const err = await syncDown(hostile, { entries: [dir('a'), dir('a/f')] }, dest, hook);
  assert.ok(swapped(), 'the swap ran');
  assert.ok(err instanceof Error, 'the run failed');
  assert.deepEqual(await readdir(outside), [], 'nothing was made outside');
});

test("sync down setting DST's attributes after its folder is swapped leaves the one outside as it was", async (t) => {
  const { work, hostile } = await startRig(t);
  const dest = join(work, 'p', 'dest');
  const outside = join(work, 'outside');
  await mkdir(dest, { recursive: true, mode: 0o700 });
  await mkdir(join(outside, 'dest'), { recursive: true, mode: 0o700 });
  const { hook, swapped } = swapAt('made', join(work, 'p'), outside);
  const err = await syncDown(hostile, { entries: [] }, dest, hook);
  assert.ok(swapped(), 'the swap ran');
  assert.equal((err as { code?: string } | undefined)?.code, 'PATH_ESCAPES_ROOT');
  assert.equal((await stat(join(outside, 'dest'))).mode & 0o777, 0o700, 'mode unchanged outside');
});
