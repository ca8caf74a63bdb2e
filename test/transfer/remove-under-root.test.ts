// The one removal rule of both sides (src/transfer/remove-under-root.ts, PROTOCOL.md §5.16): on real files in
// a temporary directory, what it removes and what it refuses, and that nothing outside the root is touched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clearForReplacement, removeUnderRoot } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { notUtf8Name } from '../helpers/not-utf8-name.js';

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

/** REMOVE_REQUEST's NOT_UTF8: names that are not UTF-8 go with their directory (PROTOCOL.md §5.16). */
const NOT_UTF8 = { notUtf8: true };

test('removeUnderRoot removes a directory holding only names that are not UTF-8, by their bytes, a link as a link', async () => {
  const gone = join(root, 'gone');
  await mkdir(gone);
  await writeFile(notUtf8Name(gone, 'b', '.txt'), 'b');
  await mkdir(notUtf8Name(gone, 'z'));
  await writeFile(Buffer.concat([notUtf8Name(gone, 'z'), Buffer.from('/inner.txt')]), 'inner');
  await symlink(outside, notUtf8Name(gone, 'l'));
  await symlink(join(outside, 'victim.txt'), notUtf8Name(gone, 'v'));
  // Not asked for (a sync with an exclude pattern, which cannot match them): refused, all four kept.
  await assert.rejects(removeUnderRoot(root, ['gone']), {
    code: 'PATH_INVALID',
    message: /not empty: names that are not UTF-8 are kept while an exclude is in effect/,
  });
  assert.equal((await readdir(gone)).length, 4);
  // Before 96b6710: PATH_INVALID 'directory is not empty', the directory and all four kept.
  assert.equal(await removeUnderRoot(root, ['gone'], NOT_UTF8), 'dir');
  await assert.rejects(lstat(gone), { code: 'ENOENT' });
  assert.equal(await readFile(join(outside, 'victim.txt'), 'utf8'), 'victim\n');
});

test('removeUnderRoot keeps a directory, and removes nothing in it, while it holds a name that is UTF-8 (a U+FFFD twin)', async () => {
  const twins = join(root, 'twins');
  await mkdir(twins);
  await writeFile(notUtf8Name(twins, 'b', '.txt'), 'bytes');
  await writeFile(join(twins, 'b\uFFFD.txt'), 'twin');
  await assert.rejects(removeUnderRoot(root, ['twins'], NOT_UTF8), {
    code: 'PATH_INVALID',
    message: /not empty/,
  });
  assert.equal(await readFile(notUtf8Name(twins, 'b', '.txt'), 'utf8'), 'bytes');
  assert.equal(await readFile(join(twins, 'b\uFFFD.txt'), 'utf8'), 'twin');
  // The twin's own removal takes the twin, never the name its string stands for.
  assert.equal(await removeUnderRoot(root, ['twins', 'b\uFFFD.txt']), 'file');
  assert.equal(await readFile(notUtf8Name(twins, 'b', '.txt'), 'utf8'), 'bytes');
  assert.equal(await removeUnderRoot(root, ['twins'], NOT_UTF8), 'dir');
  await assert.rejects(lstat(twins), { code: 'ENOENT' });
});

test('clearForReplacement removes a tree holding names that are not UTF-8, never through a directory swapped for a link', async () => {
  const tree = join(root, 'tree');
  await mkdir(notUtf8Name(tree, 'd'), { recursive: true });
  await writeFile(Buffer.concat([notUtf8Name(tree, 'd'), Buffer.from('/f')]), 'f');
  await writeFile(join(tree, 'b\uFFFD.txt'), 'twin');
  // Before: the twin went twice and `d\xfe` stayed: rmdir(2) of `tree` failed with ENOTEMPTY.
  await clearForReplacement({ dir: root, path: tree }, 'dir', NOT_UTF8);
  await assert.rejects(lstat(tree), { code: 'ENOENT' });

  const raced = join(root, 'raced');
  const swapped = notUtf8Name(raced, 'd');
  await mkdir(swapped, { recursive: true });
  await writeFile(join(outside, 'f'), 'outside');
  const beforeRead = async (dir: string): Promise<void> => {
    // The directory's string is lossy (U+FFFD for 0xFE): the test swaps it by its bytes.
    if (!dir.endsWith('d\uFFFD')) return;
    await rm(swapped, { recursive: true });
    await symlink(outside, swapped);
  };
  await assert.rejects(clearForReplacement({ dir: root, path: raced }, 'dir', { beforeRead, ...NOT_UTF8 }), {
    code: 'PATH_ESCAPES_ROOT',
  });
  assert.equal(await readFile(join(outside, 'f'), 'utf8'), 'outside');
  assert.ok((await lstat(swapped)).isSymbolicLink());
});

test('clearForReplacement not asked keeps names that are not UTF-8 and their directories: refused', async () => {
  const kept = join(root, 'kept-in-replaced');
  await mkdir(join(kept, 'sub'), { recursive: true });
  await writeFile(notUtf8Name(join(kept, 'sub'), 'x', '.key'), 'key');
  await writeFile(join(kept, 'sub', 'b.txt'), 'b');
  // Before: the tree went whole, `sub/x\xfe.key` with it.
  await assert.rejects(clearForReplacement({ dir: root, path: kept }, 'dir'), {
    code: 'PATH_INVALID',
    message: /names that are not UTF-8 are kept when a directory is replaced/,
  });
  assert.equal(await readFile(notUtf8Name(join(kept, 'sub'), 'x', '.key'), 'utf8'), 'key');
});

test('removeUnderRoot empties a directory of more names that are not UTF-8 than one read holds, a twin stopping it', async () => {
  const many = join(root, 'many');
  await mkdir(many);
  // 300 names over three reads of 128 (NAMES_PER_READ); the twin read among them keeps the directory whole.
  for (let i = 0; i < 300; i++) await writeFile(notUtf8Name(many, `n${i}`), '');
  await writeFile(join(many, 'n7\uFFFD'), 'twin');
  await assert.rejects(removeUnderRoot(root, ['many'], NOT_UTF8), { code: 'PATH_INVALID' });
  assert.equal((await readdir(many)).length, 301);
  assert.equal(await removeUnderRoot(root, ['many', 'n7\uFFFD']), 'file');
  assert.equal(await removeUnderRoot(root, ['many'], NOT_UTF8), 'dir');
  await assert.rejects(lstat(many), { code: 'ENOENT' });
});
