// `ferry sync SRC HOST/DST` replaces a remote file or link that SRC holds as the other kind by the upload's own
// rename (PUT_OFFER / PUT_LINK with OVERWRITE, PROTOCOL.md §5.3, §5.10), not by a REMOVE_REQUEST before the
// uploads: an upload refused on its own (here a file over the server's size limit) leaves the old entry where
// it was. Real server on loopback, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readlink, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { syncTree } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const LIMIT = 1024;

test('sync up keeps a remote link that a file too large for the server was to replace, and replaces a file by a link and a link by a file', async (t) => {
  const { dir, server } = await startTempDirServer(t, 'ferry-sync-up-replace-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    maxFileBytes: LIMIT,
  });
  const root = join(dir, 'root');
  const dst = join(root, 'dst');
  await mkdir(dst, { recursive: true });
  await writeFile(join(dst, 'keep.txt'), 'keep\n');
  await writeFile(join(dst, 'f'), 'f\n');
  await symlink('keep.txt', join(dst, 'l'));
  await symlink('keep.txt', join(dst, 'big'));
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'keep.txt'), 'keep\n');
  await symlink('keep.txt', join(src, 'f'));
  await writeFile(join(src, 'l'), 'now a file\n');
  await writeFile(join(src, 'big'), Buffer.alloc(2 * LIMIT, 7));
  const err = await syncTree({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    direction: 'upload',
    localDir: src,
    remotePath: 'dst',
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal((err as { code?: string } | undefined)?.code, 'FILE_TOO_LARGE', 'big was refused');
  assert.equal(await readlink(join(dst, 'big')), 'keep.txt', 'the link big was to replace is still there');
  assert.equal(await readlink(join(dst, 'f')), 'keep.txt', 'the file f is now a link');
  assert.ok((await lstat(join(dst, 'l'))).isFile(), 'the link l is now a file');
  assert.equal(await readFile(join(dst, 'l'), 'utf8'), 'now a file\n');
  assert.equal(await readFile(join(dst, 'keep.txt'), 'utf8'), 'keep\n', 'the link target is untouched');
});

test('sync up --delete keeps a remote directory, with all it holds, that a file too large for the server was to replace, and replaces directories by a file and a link at their placing, never following a link inside', async (t) => {
  const { dir, server } = await startTempDirServer(t, 'ferry-sync-up-replace-dir-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    maxFileBytes: LIMIT,
  });
  const root = join(dir, 'root');
  const dst = join(root, 'dst');
  const outside = join(dir, 'outside.txt');
  await writeFile(outside, 'outside\n');
  for (const name of ['big', 'small', 'link']) {
    await mkdir(join(dst, name, 'sub'), { recursive: true });
    await writeFile(join(dst, name, 'a.txt'), 'a\n');
    await writeFile(join(dst, name, 'sub', 'b.txt'), 'b\n');
    // A link inside the directory replaced points outside the root: its removal never follows it.
    await symlink(outside, join(dst, name, 'sub', 'out'));
  }
  await writeFile(join(dst, 'keep.txt'), 'keep\n');
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'keep.txt'), 'keep\n');
  await writeFile(join(src, 'big'), Buffer.alloc(2 * LIMIT, 7));
  await writeFile(join(src, 'small'), 'now a file\n');
  await symlink('keep.txt', join(src, 'link'));
  const err = await syncTree({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    direction: 'upload',
    localDir: src,
    remotePath: 'dst',
    delete: true,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal((err as { code?: string } | undefined)?.code, 'FILE_TOO_LARGE', 'big was refused');
  assert.equal(await readFile(join(dst, 'big', 'a.txt'), 'utf8'), 'a\n', 'the directory big is still there');
  assert.equal(await readFile(join(dst, 'big', 'sub', 'b.txt'), 'utf8'), 'b\n', 'with what it holds');
  assert.equal(await readlink(join(dst, 'big', 'sub', 'out')), outside);
  assert.ok((await lstat(join(dst, 'small'))).isFile(), 'the directory small is now a file');
  assert.equal(await readFile(join(dst, 'small'), 'utf8'), 'now a file\n');
  assert.equal(await readlink(join(dst, 'link')), 'keep.txt', 'the directory link is now a link');
  assert.equal(await readFile(outside, 'utf8'), 'outside\n', 'no removal followed a link');
});
