// assertOpenedAt (docs/SECURITY.md "Race conditions inside the root"): the server walks a path's directories
// with lstat and then opens the name; a directory swapped for a link in between must not make the open land
// outside the root. These tests stand in for the swap by opening through a link directly.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, realpath, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceFile, assertOpenedAt } from '../../src/transfer/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function layout(t: TestContext): Promise<{ root: string; outside: string }> {
  const base = await realpath(await makeTempDir('ferry-opened-at-'));
  t.after(() => removeTempDir(base));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'not for clients');
  // What a swap leaves behind: `root/dir` is now a link to a directory outside the root.
  await symlink(outside, join(root, 'dir'));
  await mkdir(join(root, 'real'));
  await writeFile(join(root, 'real', 'file'), 'for clients');
  return { root, outside };
}

test('a rooted open of a file reached through a swapped directory is refused, and closed', async (t) => {
  const { root } = await layout(t);
  await assert.rejects(
    SourceFile.open(join(root, 'dir', 'secret'), { noFollow: true, rooted: true }),
    (err) => isFerryError(err, 'PATH_ESCAPES_ROOT'),
  );
  // O_NOFOLLOW alone guards only the last name: the same open without the check reads outside the root.
  const unchecked = await SourceFile.open(join(root, 'dir', 'secret'), { noFollow: true });
  assert.equal(unchecked.size, 'not for clients'.length);
  await unchecked.close();
});

test('a rooted open of a file at its own path passes', async (t) => {
  const { root } = await layout(t);
  const source = await SourceFile.open(join(root, 'real', 'file'), { noFollow: true, rooted: true });
  assert.equal(source.size, 'for clients'.length);
  await source.close();
});

test('a file removed after it was opened is SOURCE_CHANGED, not an escape', async (t) => {
  const { root } = await layout(t);
  const path = join(root, 'real', 'file');
  const handle = await open(path, 'r');
  t.after(() => handle.close());
  assertOpenedAt(handle.fd, path);
  await unlink(path);
  assert.throws(
    () => assertOpenedAt(handle.fd, path),
    (err) => isFerryError(err, 'SOURCE_CHANGED'),
  );
});
