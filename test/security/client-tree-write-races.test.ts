// A local user who can write a download's destination (a shared folder) races the client finishing the tree
// (`finishTree`: `ferry get -r`, `ferry sync HOST/SRC DST`): between the walk of an entry's path and the act,
// it swaps a directory on the way for a link to outside DST. mkdir(2), symlink(2), rename(2), rmdir(2) by
// name follow it, and so does the open of a directory whose mode and mtime are set. The client applies the
// server's checks (tree-write-races.test.ts): the directory's real path re-checked right before each act
// (`assertDirUnmoved`), the kernel path of what it opens checked (`assertOpenedAt`): refused with
// PATH_ESCAPES_ROOT, nothing made, changed or removed outside. The swap runs in the test hook
// (`beforeTreeWrite`) between the check and the act, so it happens every run. Real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishTree } from '../../src/client/finish-tree.js';
import type { GetPlan } from '../../src/client/download-plan.js';
import type { TreeWriteStep } from '../../src/transfer/index.js';

const MTIME_MS = 1_650_000_000_000;

/**
 * Finishes `plan` in a destination `root` holding the directory `a`, beside a directory `outside`; at `step`
 * `a` is moved aside and a link to `outside` takes its name. `prepare` fills both before. Returns the error.
 */
async function racedFinish(
  t: TestContext,
  step: TreeWriteStep,
  plan: GetPlan,
  prepare: (base: string) => Promise<unknown> = () => Promise.resolve(),
): Promise<{ outside: string; error: unknown }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'ferry-client-tree-races-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  await mkdir(join(root, 'a'), { recursive: true });
  await mkdir(outside);
  await prepare(join(root, 'a'));
  await prepare(outside);
  let swapped = false;
  const error = await finishTree(
    plan,
    root,
    {
      overwrite: true,
      beforeTreeWrite: async (_path, at) => {
        if (at !== step || swapped) return;
        swapped = true;
        await rename(join(root, 'a'), join(root, 'a-was'));
        await symlink(outside, join(root, 'a'));
      },
    },
    () => undefined,
  ).then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(swapped, 'the swap ran');
  assert.equal((error as { code?: string } | undefined)?.code, 'PATH_ESCAPES_ROOT');
  return { outside, error };
}

test('a directory whose parent is swapped for a link after the walk is not made outside', async (t) => {
  const plan: GetPlan = {
    files: [],
    links: [],
    dirs: [{ local: ['a', 'new'], mode: 0o755, mtimeMs: MTIME_MS }],
  };
  const { outside } = await racedFinish(t, 'walked', plan);
  assert.deepEqual(await readdir(outside), [], 'nothing was made outside');
});

test('a directory whose parent is swapped before its attributes are set leaves the one outside as it was', async (t) => {
  const plan: GetPlan = {
    files: [],
    links: [],
    dirs: [{ local: ['a', 'same'], mode: 0o755, mtimeMs: MTIME_MS }],
  };
  const { outside } = await racedFinish(t, 'made', plan, (base) =>
    mkdir(join(base, 'same'), { mode: 0o700 }),
  );
  const after = await stat(join(outside, 'same'));
  assert.equal(after.mode & 0o777, 0o700, 'mode unchanged outside');
  assert.notEqual(Math.trunc(after.mtimeMs), MTIME_MS, 'mtime unchanged outside');
});

test('a link whose parent is swapped for a link after the walk is not made outside', async (t) => {
  const plan: GetPlan = {
    files: [],
    dirs: [],
    links: [{ local: ['a', 'lnk'], target: 'x', mtimeMs: MTIME_MS, rootDepth: 0 }],
  };
  const { outside } = await racedFinish(t, 'walked', plan);
  assert.deepEqual(await readdir(outside), [], 'nothing was made outside');
});

test('a link replacing an empty directory swapped for a link while it is cleared removes nothing outside', async (t) => {
  const plan: GetPlan = {
    files: [],
    dirs: [],
    links: [{ local: ['a', 'd'], target: 'x', mtimeMs: MTIME_MS, rootDepth: 0, replaces: 'dir' }],
  };
  const { outside } = await racedFinish(t, 'clearing', plan, (base) => mkdir(join(base, 'd')));
  assert.deepEqual(await readdir(outside), ['d'], 'the directory outside is still there');
});
