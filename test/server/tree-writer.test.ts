// The server's directory-entry handlers (PROTOCOL.md §5.10) driven directly with a SessionIo on a temp root:
// PUT_DIR creates, sets mode within 0o755 | 0o700 and mtime, and never replaces a file or follows a link;
// PUT_LINK accepts only targets that stay inside the client's root, and never replaces a file.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  decodeMessage,
  type Message,
} from '../../src/protocol/index.js';
import { SessionIo, type ClientGrant, type SessionContext } from '../../src/server/session-io.js';
import { writeDirectory, writeLink } from '../../src/server/tree-writer.js';
import { StorageLimits } from '../../src/server/storage-limits.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { notUtf8Name } from '../helpers/not-utf8-name.js';
import { hexBytes as h } from '../protocol/message-assertions.js';

const MTIME_MS = 1_650_000_000_500;

async function rig(
  t: TestContext,
  grant: ClientGrant = { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD },
): Promise<{ dir: string; root: string; io: SessionIo }> {
  const dir = await makeTempDir('ferry-tree-writer-');
  t.after(() => removeTempDir(dir));
  const root = join(dir, 'root');
  await mkdir(root);
  // Only `root` and the storage limits (here without limits) are used by the handlers under test.
  const storage = new StorageLimits(root, join(root, '.ferry', 'partial'), {
    minFreeDiskBytes: 0,
    clientQuotaBytes: 0,
  });
  const ctx = { root, storage } as unknown as SessionContext;
  const io = new SessionIo(ctx, Buffer.alloc(32), grant, pino({ enabled: false }), {
    send: () => Promise.resolve(),
    sendPlaintext: () => Promise.resolve(),
  });
  return { dir, root, io };
}

test('PUT_DIR creates missing parents and the directory, caps its mode at 0o755 with owner rwx, and sets its mtime', async (t) => {
  const { root, io } = await rig(t);
  await writeDirectory(io, { type: 'PUT_DIR', ref: 1, mode: 0o2777, mtimeMs: MTIME_MS, path: 'a/b/c' });
  const st = await stat(join(root, 'a', 'b', 'c'));
  assert.ok(st.isDirectory());
  assert.equal(st.mode & 0o7777, 0o755);
  assert.ok(Math.abs(st.mtimeMs - MTIME_MS) < 1, `mtime ${st.mtimeMs}, expected ${MTIME_MS}`);

  await writeDirectory(io, { type: 'PUT_DIR', ref: 2, mode: 0o500, mtimeMs: MTIME_MS, path: 'a/b/c' });
  assert.equal((await stat(join(root, 'a', 'b', 'c'))).mode & 0o7777, 0o700, 'owner rwx is always kept');
});

test('PUT_DIR over an existing file is refused with FILE_EXISTS and the file is unchanged', async (t) => {
  const { root, io } = await rig(t);
  await writeFile(join(root, 'taken'), 'content');
  await assert.rejects(
    writeDirectory(io, { type: 'PUT_DIR', ref: 1, mode: 0o755, mtimeMs: MTIME_MS, path: 'taken' }),
    { code: 'FILE_EXISTS' },
  );
  assert.equal(await readFile(join(root, 'taken'), 'utf8'), 'content');
});

test('PUT_DIR onto or through a symbolic link is refused with PATH_ESCAPES_ROOT and the link target is untouched', async (t) => {
  const { dir, root, io } = await rig(t);
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await symlink(outside, join(root, 'planted'));
  const modeBefore = (await stat(outside)).mode;
  for (const path of ['planted', 'planted/inner'])
    await assert.rejects(
      writeDirectory(io, { type: 'PUT_DIR', ref: 1, mode: 0o700, mtimeMs: MTIME_MS, path }),
      { code: 'PATH_ESCAPES_ROOT' },
      path,
    );
  assert.deepEqual(await readdir(outside), []);
  assert.equal((await stat(outside)).mode, modeBefore, 'the link target keeps its mode');
});

test('PUT_LINK creates a relative link that stays inside the root, with its mtime', async (t) => {
  const { root, io } = await rig(t);
  await writeLink(io, {
    type: 'PUT_LINK',
    ref: 1,
    overwrite: false,
    mtimeMs: MTIME_MS,
    target: '../b/file',
    path: 'a/link',
  });
  const st = await lstat(join(root, 'a', 'link'));
  assert.ok(st.isSymbolicLink());
  assert.equal(await readlink(join(root, 'a', 'link')), '../b/file');
  assert.ok(Math.abs(st.mtimeMs - MTIME_MS) < 1, `link mtime ${st.mtimeMs}`);
});

test('PUT_LINK with a target escaping the root (`..` past it, absolute) is refused with PATH_ESCAPES_ROOT and nothing is created', async (t) => {
  const { root, io } = await rig(t);
  for (const [path, target] of [
    ['link', '../outside'],
    ['a/link', '../../../etc/passwd'],
    ['a/link', '/etc/passwd'],
    ['a/b/link', '../x/../../../y'],
    ['link', '.ferry/partial'],
  ] as const) {
    await assert.rejects(
      writeLink(io, { type: 'PUT_LINK', ref: 1, overwrite: true, mtimeMs: MTIME_MS, target, path }),
      { code: 'PATH_ESCAPES_ROOT' },
      `${path} -> ${target}`,
    );
  }
  assert.deepEqual(await listTree(root), [], 'not even a parent directory was created');
});

test('PUT_LINK of a confined client may not climb out of its subdirectory, even though it stays inside the server root', async (t) => {
  const { root, io } = await rig(t, { permissions: PERMISSION_UPLOAD, root: 'sub' });
  await assert.rejects(
    writeLink(io, {
      type: 'PUT_LINK',
      ref: 1,
      overwrite: false,
      mtimeMs: MTIME_MS,
      target: '../other-client/file',
      path: 'link',
    }),
    { code: 'PATH_ESCAPES_ROOT' },
  );
  await writeLink(io, {
    type: 'PUT_LINK',
    ref: 2,
    overwrite: false,
    mtimeMs: MTIME_MS,
    target: 'x',
    path: 'in',
  });
  assert.equal(await readlink(join(root, 'sub', 'in')), 'x', 'the link lands under the client root');
});

test('PUT_LINK never replaces a directory, replaces a file or a link only with OVERWRITE, and accepts the same link again', async (t) => {
  const { root, io } = await rig(t);
  await writeFile(join(root, 'file'), 'content');
  await mkdir(join(root, 'dir'));
  await assert.rejects(
    writeLink(io, {
      type: 'PUT_LINK',
      ref: 1,
      overwrite: false,
      mtimeMs: MTIME_MS,
      target: 'x',
      path: 'file',
    }),
    { code: 'FILE_EXISTS' },
  );
  // A directory in the way is refused before the handler's own check (resolveUnderRoot: PATH_INVALID).
  await assert.rejects(
    writeLink(io, { type: 'PUT_LINK', ref: 1, overwrite: true, mtimeMs: MTIME_MS, target: 'x', path: 'dir' }),
    (err: { code?: string }) => err.code === 'FILE_EXISTS' || err.code === 'PATH_INVALID',
  );
  assert.equal(await readFile(join(root, 'file'), 'utf8'), 'content');
  assert.ok((await lstat(join(root, 'dir'))).isDirectory());
  // PROTOCOL.md §5.10: OVERWRITE renames the new link over a file (ferry sync's file that became a link).
  await writeLink(io, {
    type: 'PUT_LINK',
    ref: 1,
    overwrite: true,
    mtimeMs: MTIME_MS,
    target: 'x',
    path: 'file',
  });
  assert.equal(await readlink(join(root, 'file')), 'x');

  const put = (target: string, overwrite: boolean) =>
    writeLink(io, { type: 'PUT_LINK', ref: 1, overwrite, mtimeMs: MTIME_MS, target, path: 'link' });
  await put('one', false);
  await put('one', false); // identical: fine
  await assert.rejects(put('two', false), { code: 'FILE_EXISTS' });
  assert.equal(await readlink(join(root, 'link')), 'one');
  await put('two', true);
  assert.equal(await readlink(join(root, 'link')), 'two');
  assert.deepEqual(
    (await readdir(root)).filter((n) => n.includes('ferry-link')),
    [],
    'no temporary link is left behind',
  );
});

test('PUT_LINK with REPLACE_DIR takes the names that are not UTF-8 below the directory only when NOT_UTF8 (flag bit 2) asks', async (t) => {
  const { root, io } = await rig(t);
  const dir = join(root, 'dir');
  await mkdir(dir);
  await writeFile(notUtf8Name(dir, 'y', '.key'), 'bytes');
  // `18 ref flags mtimeMs target path`: flags 0x03 OVERWRITE | REPLACE_DIR, 0x07 with NOT_UTF8 too.
  const link = (flags: string): Message =>
    decodeMessage(h(`18 00000001 ${flags} 0000000000000000 0001 78 0003 646972`));
  const kept = link('03');
  assert.ok(kept.type === 'PUT_LINK');
  await assert.rejects(writeLink(io, kept), {
    code: 'PATH_INVALID',
    message: /names that are not UTF-8 are kept when a directory is replaced/,
  });
  assert.equal(await readFile(notUtf8Name(dir, 'y', '.key'), 'utf8'), 'bytes');
  // Before: NOT_UTF8 was no flag (MESSAGE_MALFORMED), so no request could replace such a directory.
  const asked = link('07');
  assert.ok(asked.type === 'PUT_LINK');
  await writeLink(io, asked);
  assert.equal(await readlink(dir), 'x');
});

test('PUT_DIR and PUT_LINK from a client without the upload permission are refused with PERMISSION_DENIED', async (t) => {
  const { root, io } = await rig(t, { permissions: PERMISSION_DOWNLOAD });
  await assert.rejects(
    writeDirectory(io, { type: 'PUT_DIR', ref: 1, mode: 0o755, mtimeMs: MTIME_MS, path: 'd' }),
    { code: 'PERMISSION_DENIED' },
  );
  await assert.rejects(
    writeLink(io, { type: 'PUT_LINK', ref: 2, overwrite: false, mtimeMs: MTIME_MS, target: 'x', path: 'l' }),
    { code: 'PERMISSION_DENIED' },
  );
  assert.deepEqual(await listTree(root), []);
});

test('PUT_LINK whose name is 255 bytes (the longest legal component) is created', async (t) => {
  const { root, io } = await rig(t);
  const name = `${'l'.repeat(250)}.link`;
  await writeLink(io, {
    type: 'PUT_LINK',
    ref: 1,
    overwrite: false,
    mtimeMs: MTIME_MS,
    target: 'x',
    path: name,
  });
  assert.equal(await readlink(join(root, name)), 'x');
});
