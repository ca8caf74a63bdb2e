// walkLocalTree: a local directory as a manifest of entries (PROTOCOL.md §5.10), never following links.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { walkLocalTree } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-local-tree-');
  t.after(() => removeTempDir(dir));
  return dir;
}

test('walkLocalTree names the top directory by its base name and lists files, links and directories deepest first', async (t) => {
  const dir = await tempDir(t);
  const top = join(dir, 'photos');
  await mkdir(join(top, 'a', 'b'), { recursive: true });
  await mkdir(join(top, 'empty'));
  await writeFile(join(top, 'a', 'b', 'deep.txt'), 'deep');
  await writeFile(join(top, 'root.txt'), 'root');
  await symlink('../root.txt', join(top, 'a', 'up-link'));
  await chmod(join(top, 'a'), 0o750);
  await utimes(join(top, 'empty'), 1_600_000_000, 1_600_000_000.25);

  const skipped: string[] = [];
  // A trailing slash, as shells complete it, must not change the top name.
  const tree = await walkLocalTree(`${top}/`, (path) => skipped.push(path));

  assert.deepEqual(skipped, []);
  assert.deepEqual(tree.files.map((f) => f.relative).sort(), ['photos/a/b/deep.txt', 'photos/root.txt']);
  const deep = tree.files.find((f) => f.relative === 'photos/a/b/deep.txt')!;
  assert.equal(deep.localPath, join(top, 'a', 'b', 'deep.txt'));
  assert.deepEqual(tree.links, [
    { relative: 'photos/a/up-link', target: '../root.txt', mtimeMs: tree.links[0]!.mtimeMs },
  ]);
  const dirs = tree.dirs.map((d) => d.relative);
  assert.deepEqual(new Set(dirs), new Set(['photos', 'photos/a', 'photos/a/b', 'photos/empty']));
  // Deepest first: every directory comes after everything inside it.
  for (const [i, d] of dirs.entries())
    for (const later of dirs.slice(i + 1))
      assert.ok(!later.startsWith(`${d}/`), `${later} comes after its parent ${d}`);
  assert.equal(dirs[dirs.length - 1], 'photos', 'the top directory comes last');
  assert.equal(tree.dirs.find((d) => d.relative === 'photos/a')!.mode, 0o750);
  assert.equal(tree.dirs.find((d) => d.relative === 'photos/empty')!.mtimeMs, 1_600_000_000_250);
});

test('walkLocalTree names a top of `..` after the directory walked (a link`s `..` is its target`s parent), any other name as typed', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'photos', 'albums'), { recursive: true });
  await writeFile(join(dir, 'photos', 'cover.jpg'), 'cover');
  await mkdir(join(dir, 'work'));
  await symlink(join(dir, 'photos', 'albums'), join(dir, 'work', 'albums-link'));
  // The text says `work`; the kernel walks `photos`, and the name must say what was walked.
  // Built as text: join() would fold the `..` away before the kernel sees it.
  const up = await walkLocalTree(`${join(dir, 'work', 'albums-link')}/..`, () => undefined);
  assert.deepEqual(
    up.files.map((f) => f.relative),
    ['photos/cover.jpg'],
  );
  // A link named as the top keeps its own name, as scp -r does.
  await symlink(join(dir, 'photos'), join(dir, 'photos-link'));
  const linked = await walkLocalTree(join(dir, 'photos-link'), () => undefined);
  assert.deepEqual(
    linked.files.map((f) => f.relative),
    ['photos-link/cover.jpg'],
  );
});

test('walkLocalTree skips links that leave the tree or are absolute, and never follows a link to a directory', async (t) => {
  const dir = await tempDir(t);
  const top = join(dir, 'tree');
  const outside = join(dir, 'outside');
  await mkdir(join(top, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'secret');
  await symlink(outside, join(top, 'absolute-dir-link'));
  await symlink('../../outside/secret.txt', join(top, 'sub', 'climbing-link'));
  await symlink('/etc/passwd', join(top, 'etc-link'));
  await symlink('sub', join(top, 'inside-dir-link'));

  const skipped = new Map<string, string>();
  const tree = await walkLocalTree(top, (path, reason) => skipped.set(path, reason));

  assert.deepEqual([...skipped.keys()].sort(), [
    'tree/absolute-dir-link',
    'tree/etc-link',
    'tree/sub/climbing-link',
  ]);
  for (const reason of skipped.values()) assert.match(reason, /outside the tree/);
  assert.deepEqual(
    tree.links.map((l) => [l.relative, l.target]),
    [['tree/inside-dir-link', 'sub']],
  );
  assert.deepEqual(tree.files, [], 'nothing reached through a link is listed as a file');
});

test('walkLocalTree skips special files and names that cannot travel, and reports each', async (t) => {
  const dir = await tempDir(t);
  const top = join(dir, 'tree');
  await mkdir(top);
  await writeFile(join(top, 'ok.txt'), 'ok');
  await writeFile(join(top, 'back\\slash'), 'x');
  await writeFile(join(top, 'tab\tname'), 'x');
  const sock = createServer();
  t.after(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  sock.listen(join(top, 'unix.sock'));
  await once(sock, 'listening');

  const skipped = new Map<string, string>();
  const tree = await walkLocalTree(top, (path, reason) => skipped.set(path, reason));

  assert.deepEqual(
    tree.files.map((f) => f.relative),
    ['tree/ok.txt'],
  );
  assert.match(skipped.get('tree/unix.sock') ?? '', /not a regular file/);
  assert.match(skipped.get('tree/back\\slash') ?? '', /cannot be sent/);
  assert.match(skipped.get('tree/tab\tname') ?? '', /cannot be sent/);
});

test('walkLocalTree refuses a top path that is a file', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'file'), 'x');
  await assert.rejects(
    walkLocalTree(join(dir, 'file'), () => undefined),
    { code: 'PATH_INVALID' },
  );
});

test('walkLocalTree skips link chains and links whose `..` climbs a directory the server has not made yet when links arrive', async (t) => {
  const dir = await tempDir(t);
  const top = join(dir, 'tree');
  await mkdir(join(top, 'a', 'b'), { recursive: true });
  await mkdir(join(top, 'empty'));
  await mkdir(join(top, 'full'));
  await writeFile(join(top, 'full', 'f.txt'), 'f');
  await writeFile(join(top, 'a', 'b', 'g.txt'), 'g');
  await symlink('..', join(top, 'a', 'b', 'y'));
  await symlink('y/..', join(top, 'a', 'b', 'u1'));
  await symlink('u1/..', join(top, 'a', 'b', 'u2'));
  await symlink('u2', join(top, 'a', 'b', 'to-u2'));
  await symlink('empty/../full', join(top, 'via-empty'));
  await symlink('full/../a', join(top, 'via-full'));

  const skipped: string[] = [];
  const tree = await walkLocalTree(top, (path) => skipped.push(path));

  assert.deepEqual(skipped.sort(), ['tree/a/b/to-u2', 'tree/a/b/u1', 'tree/a/b/u2', 'tree/via-empty']);
  assert.deepEqual(tree.links.map((l) => l.relative).sort(), ['tree/a/b/y', 'tree/via-full']);
});
