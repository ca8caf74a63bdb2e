import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isFerryError } from '../../src/errors/index.js';
import { makeReceivedDirectory, resolveUnderRoot } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const POSIX = process.platform !== 'win32';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-received-dir-');
  t.after(() => removeTempDir(dir));
  return dir;
}

/** Runs `work` under `mask`, then puts the process's umask back. */
async function withUmask<T>(mask: number, work: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await work();
  } finally {
    process.umask(previous);
  }
}

test(
  '`makeReceivedDirectory` makes a directory no more open than 0o755 whatever the umask, as every receiver does',
  { skip: !POSIX },
  async (t) => {
    const dir = await tempDir(t);
    await withUmask(0, () => makeReceivedDirectory(join(dir, 'made')));
    assert.equal((await stat(join(dir, 'made'))).mode & 0o7777, 0o755);
    // The missing parents a receiver makes on the way follow the same limit.
    await withUmask(0, () => resolveUnderRoot(dir, ['a', 'b', 'f.txt'], { createDirs: true }));
    assert.equal((await stat(join(dir, 'a'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(dir, 'a', 'b'))).mode & 0o7777, 0o755);
  },
);

test(
  '`makeReceivedDirectory` keeps an existing directory and refuses a file or a link in the way',
  { skip: !POSIX },
  async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'there'), { mode: 0o700 });
    // Not made: the server's PUT_DIR then has no new name to flush in the parent.
    assert.equal(await makeReceivedDirectory(join(dir, 'there')), false);
    assert.equal(await makeReceivedDirectory(join(dir, 'new')), true, 'made');
    assert.equal(
      (await stat(join(dir, 'there'))).mode & 0o7777,
      0o700,
      'left as it is for its caller to set',
    );
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(makeReceivedDirectory(join(dir, 'file')), (err) => isFerryError(err, 'FILE_EXISTS'));
    await symlink(join(dir, 'there'), join(dir, 'link'));
    await assert.rejects(makeReceivedDirectory(join(dir, 'link')), (err) =>
      isFerryError(err, 'PATH_ESCAPES_ROOT'),
    );
  },
);
