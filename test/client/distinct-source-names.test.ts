// The same-name check of sendPaths (refuseSameNameSends) names each source as the send will store it
// (localTopOf, walkLocalTree's rule): `link/..` after the directory the kernel finds, the link target's
// parent, not the one its text folds to. Real directories and links; no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { refuseSameNameSends } from '../../src/client/distinct-source-names.js';
import { isFerryError } from '../../src/errors/index.js';
import { walkLocalTree } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('refuseSameNameSends names `link/..` after the link target`s parent, as the walk stores it', async (t) => {
  const dir = await makeTempDir('ferry-same-name-');
  t.after(() => removeTempDir(dir));
  await mkdir(join(dir, 'photos', 'albums'), { recursive: true });
  await mkdir(join(dir, 'work'));
  await mkdir(join(dir, 'backup', 'photos'), { recursive: true });
  await mkdir(join(dir, 'backup', 'work'), { recursive: true });
  await symlink(join(dir, 'photos', 'albums'), join(dir, 'work', 'albums-link'));
  // Built as text: join() would fold the `..` away before the kernel sees it.
  const up = `${join(dir, 'work', 'albums-link')}/..`;
  assert.equal((await walkLocalTree(up, () => undefined)).dirs.at(-1)?.relative, 'photos');

  // Both are stored as `photos`: refused, naming both as typed.
  const other = join(dir, 'backup', 'photos');
  assert.throws(
    () => refuseSameNameSends([up, other]),
    (err) =>
      isFerryError(err, 'USAGE_INVALID') &&
      err.message.includes(`${up} and ${other} would both be stored as photos in the destination`),
  );
  // `work` is what the text says, not what is sent: no clash.
  assert.doesNotThrow(() => refuseSameNameSends([up, join(dir, 'backup', 'work')]));
  // A source that does not resolve is named by its text; its own send reports it.
  assert.doesNotThrow(() =>
    refuseSameNameSends([`${join(dir, 'missing')}/..`, join(dir, 'backup', 'photos')]),
  );
});

test('refuseSameNameSends names `/` as the walk stores it, `root`: beside a directory `root`, refused', async (t) => {
  const dir = await makeTempDir('ferry-same-name-');
  t.after(() => removeTempDir(dir));
  const named = join(dir, 'root');
  await mkdir(named);
  assert.throws(
    () => refuseSameNameSends(['/', named]),
    (err) => isFerryError(err, 'USAGE_INVALID') && err.message.includes('would both be stored as root'),
  );
});
