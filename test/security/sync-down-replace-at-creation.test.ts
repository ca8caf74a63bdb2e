// `ferry sync HOST/SRC DST` replaces a local entry that the listing names as another kind only when its
// replacement is ready beside it, as rsync does (docs/SECURITY.md "Removals"): a run that fails before
// (here a server that drops the connection at the first GET) leaves the old entry where it was. Without
// this, the plan's removals ran before the transfers and the entries were lost with nothing in their place.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readlink, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { contentsUnder } from '../helpers/tree-snapshot.js';
import { HostileServer, dir, file, link, syncDownFrom, type HostileScript } from './hostile-server.js';

interface Rig {
  dest: string;
  hostile: HostileServer;
}

/** DST: keep.txt, f (a file), l -> keep.txt, d/keep2.txt, e/sub/deep.txt. */
async function startRig(t: TestContext): Promise<Rig> {
  const work = await makeTempDir('ferry-sync-replace-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'dest');
  await mkdir(join(dest, 'd'), { recursive: true });
  await mkdir(join(dest, 'e', 'sub'), { recursive: true });
  await writeFile(join(dest, 'keep.txt'), 'keep\n');
  await writeFile(join(dest, 'f'), 'f\n');
  await symlink('keep.txt', join(dest, 'l'));
  await writeFile(join(dest, 'd', 'keep2.txt'), 'keep2\n');
  await writeFile(join(dest, 'e', 'sub', 'deep.txt'), 'deep\n');
  return { dest, hostile };
}

function syncDown(rig: Rig, script: HostileScript, options: { delete: boolean }): Promise<unknown> {
  rig.hostile.script = script;
  return syncDownFrom(rig.hostile, rig.dest, { chunkBytes: 64 * 1024, delete: options.delete });
}

test('sync down that fails at its first GET keeps a file the listing names as a link, and a link it names as a file', async (t) => {
  const rig = await startRig(t);
  const before = await contentsUnder(rig.dest);
  const err = await syncDown(
    rig,
    { entries: [link('f', 'keep.txt'), file('l'), file('new.txt')], dropOnGet: true },
    { delete: false },
  );
  assert.ok(err instanceof Error, 'the run failed');
  assert.equal(await readFile(join(rig.dest, 'f'), 'utf8'), 'f\n', 'f is still the file it was');
  assert.equal(await readlink(join(rig.dest, 'l')), 'keep.txt', 'l is still the link it was');
  assert.deepEqual(await contentsUnder(rig.dest), before, 'nothing in DST changed');
});

test('sync down --delete that fails at its first GET keeps a directory the listing names as a file or a link, with what it holds', async (t) => {
  const rig = await startRig(t);
  const before = await contentsUnder(rig.dest);
  const err = await syncDown(
    rig,
    { entries: [file('d'), link('e', 'keep.txt'), file('new.txt')], dropOnGet: true },
    { delete: true },
  );
  assert.ok(err instanceof Error, 'the run failed');
  const after = await contentsUnder(rig.dest);
  assert.equal(after['d/keep2.txt'], before['d/keep2.txt'], 'd/keep2.txt kept');
  assert.equal(after['e/sub/deep.txt'], before['e/sub/deep.txt'], 'e/sub/deep.txt kept');
});

test('sync down --delete replaces every kind by every other when the run succeeds', async (t) => {
  const rig = await startRig(t);
  const err = await syncDown(
    rig,
    {
      entries: [
        link('f', 'keep.txt'),
        file('l'),
        file('d'),
        link('e', 'keep.txt'),
        dir('keep.txt'),
        file('keep.txt/x'),
      ],
    },
    { delete: true },
  );
  assert.equal(err, undefined);
  assert.equal(await readlink(join(rig.dest, 'f')), 'keep.txt');
  assert.equal(await readlink(join(rig.dest, 'e')), 'keep.txt');
  assert.ok((await lstat(join(rig.dest, 'l'))).isFile());
  assert.ok((await lstat(join(rig.dest, 'd'))).isFile());
  assert.ok((await lstat(join(rig.dest, 'keep.txt'))).isDirectory());
  assert.match(await readFile(join(rig.dest, 'keep.txt', 'x'), 'utf8'), /planted/);
  // No temporary of the replacements is left beside them.
  assert.deepEqual(Object.keys(await contentsUnder(rig.dest)).sort(), [
    'd',
    'e',
    'f',
    'keep.txt',
    'keep.txt/x',
    'l',
  ]);
});

test('sync down: a directory that replaces a file is made in the same step as the removal, before the transfers', async (t) => {
  const rig = await startRig(t);
  const err = await syncDown(
    rig,
    { entries: [dir('f'), file('f/new.txt'), file('keep.txt'), file('l')], dropOnGet: true },
    { delete: false },
  );
  assert.ok(err instanceof Error, 'the run failed');
  // The decided behaviour (rsync's): the replacement directory stands, as its contents arrive into it.
  assert.ok((await lstat(join(rig.dest, 'f'))).isDirectory());
  assert.equal(await readlink(join(rig.dest, 'l')), 'keep.txt', 'l is still the link it was');
});
