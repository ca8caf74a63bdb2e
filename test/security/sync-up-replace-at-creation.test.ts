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
