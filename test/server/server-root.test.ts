// prepareServerRoot, with real directories: the root is made (or refused when a file is there), taken by its
// real path, kept apart from the server's home both ways, and given its partials' directory, mode 0700.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../src/errors/index.js';
import { prepareServerRoot } from '../../src/server/server-root.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await realpath(await makeTempDir('ferry-server-root-'));
});

after(async () => {
  await removeTempDir(dir);
});

test('a missing root is made, taken by its real path, with .ferry/partial at mode 0700', async () => {
  await mkdir(join(dir, 'real'));
  await symlink(join(dir, 'real'), join(dir, 'link'));
  const { root, partialDir } = await prepareServerRoot({ root: join(dir, 'link', 'data') });
  assert.equal(root, join(dir, 'real', 'data'));
  assert.equal(partialDir, join(dir, 'real', 'data', '.ferry', 'partial'));
  assert.equal((await stat(partialDir)).mode & 0o777, 0o700);
});

test('a file where the root goes is refused, naming it', async () => {
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  await assert.rejects(
    prepareServerRoot({ root: file }),
    (err: unknown) => err instanceof FerryError && err.code === 'USAGE_INVALID' && err.subject === file,
  );
});

test('a root containing the home, or inside it, is refused; pairing.homeDir counts as the home', async () => {
  const home = join(dir, 'srv', 'home');
  await mkdir(home, { recursive: true });
  const refused = (err: unknown): boolean => err instanceof FerryError && err.code === 'ROOT_CONTAINS_HOME';
  await assert.rejects(prepareServerRoot({ root: join(dir, 'srv'), home }), refused);
  await assert.rejects(prepareServerRoot({ root: join(home, 'files'), home }), refused);
  await assert.rejects(prepareServerRoot({ root: join(dir, 'srv'), pairing: { homeDir: home } }), refused);
  // A sibling of the home is apart from it; a home not made yet holds nothing to expose.
  await prepareServerRoot({ root: join(dir, 'srv', 'files'), home });
  await prepareServerRoot({ root: join(dir, 'other'), home: join(dir, 'srv', 'not-yet') });
});
