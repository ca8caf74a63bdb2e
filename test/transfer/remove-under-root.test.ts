// The one removal rule of both sides (src/transfer/remove-under-root.ts, PROTOCOL.md §5.16): on real files in
// a temporary directory, what it removes and what it refuses, and that nothing outside the root is touched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeUnderRoot } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let root: string;
let outside: string;

before(async () => {
  dir = await realpath(await makeTempDir('ferry-remove-under-root-'));
  root = join(dir, 'root');
  outside = join(dir, 'outside');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'victim.txt'), 'victim\n');
});

after(async () => {
  await removeTempDir(dir);
});

test('removeUnderRoot removes a file, a link as a link and an empty directory, and says which', async () => {
  await writeFile(join(root, 'sub', 'f'), 'f');
  await symlink(join(outside, 'victim.txt'), join(root, 'sub', 'l'));
  await mkdir(join(root, 'sub', 'e'));
  assert.equal(await removeUnderRoot(root, ['sub', 'f']), 'file');
  assert.equal(await removeUnderRoot(root, ['sub', 'l']), 'link');
  assert.equal(await removeUnderRoot(root, ['sub', 'e']), 'dir');
  for (const name of ['f', 'l', 'e'])
    await assert.rejects(lstat(join(root, 'sub', name)), { code: 'ENOENT' });
  assert.equal(await readFile(join(outside, 'victim.txt'), 'utf8'), 'victim\n');
});

test('removeUnderRoot never goes through a link above the entry, and refuses a non-empty directory or a missing entry', async () => {
  await symlink(outside, join(root, 'dirlink'));
  await assert.rejects(removeUnderRoot(root, ['dirlink', 'victim.txt']), { code: 'PATH_ESCAPES_ROOT' });
  assert.equal(await readFile(join(outside, 'victim.txt'), 'utf8'), 'victim\n');
  await writeFile(join(root, 'sub', 'kept'), 'k');
  await assert.rejects(removeUnderRoot(root, ['sub']), { code: 'PATH_INVALID' });
  assert.ok((await lstat(join(root, 'sub', 'kept'))).isFile());
  await assert.rejects(removeUnderRoot(root, ['missing']), { code: 'PATH_NOT_FOUND' });
});
