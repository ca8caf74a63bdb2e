// Partials ferry did not make (SECURITY.md): the state file marks a partial as ferry's (ChunkLog.identify,
// partialOwner), FilePartialStore writes it before it makes the data file, and nothing is opened through a link
// (openNoFollow, ChunkLog.create).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ChunkLog,
  FilePartialStore,
  PartialTransfer,
  openNoFollow,
  partialOwner,
} from '../../src/transfer/index.js';
import { chunkHashOf, fileDigest } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-partial-owner-');
  t.after(() => removeTempDir(dir));
  return dir;
}

test('ChunkLog.identify tells a ferry state file (or an empty one) from a foreign file, a link and a directory', async (t) => {
  const dir = await tempDir(t);
  await (await ChunkLog.create(join(dir, 'log'), Buffer.from('h'), [], { durable: false })).close();
  await writeFile(join(dir, 'empty'), '');
  await writeFile(join(dir, 'torn'), 'FERRY');
  await writeFile(join(dir, 'mine'), 'my notes\n');
  await symlink(join(dir, 'log'), join(dir, 'link'));
  await mkdir(join(dir, 'dir'));
  const kinds: Record<string, string> = {};
  for (const name of ['log', 'empty', 'torn', 'mine', 'link', 'dir', 'missing'])
    kinds[name] = await ChunkLog.identify(join(dir, name));
  assert.deepEqual(kinds, {
    log: 'ferry',
    empty: 'ferry',
    torn: 'ferry',
    mine: 'foreign',
    link: 'other',
    dir: 'other',
    missing: 'absent',
  });
});

test('ChunkLog.create never writes through a link at its temporary or its name, and never replaces a foreign temporary', async (t) => {
  const dir = await tempDir(t);
  const victim = join(dir, 'victim');
  await writeFile(victim, 'victim\n');
  await symlink(victim, join(dir, 'a.tmp'));
  await assert.rejects(ChunkLog.create(join(dir, 'a'), Buffer.from('h'), [], { durable: true }), {
    code: 'FILE_EXISTS',
  });
  await symlink(victim, join(dir, 'b'));
  await assert.rejects(ChunkLog.create(join(dir, 'b'), Buffer.from('h'), [], { durable: true }), {
    code: 'FILE_EXISTS',
  });
  await writeFile(join(dir, 'c.tmp'), 'my notes\n');
  await assert.rejects(ChunkLog.create(join(dir, 'c'), Buffer.from('h'), [], { durable: true }), {
    code: 'FILE_EXISTS',
  });
  assert.equal(await readFile(victim, 'utf8'), 'victim\n');
  assert.equal(await readFile(join(dir, 'c.tmp'), 'utf8'), 'my notes\n');
  assert.equal(await readlink(join(dir, 'a.tmp')), victim);
  // A stale temporary of ferry's own (an interrupted create) is replaced.
  await writeFile(join(dir, 'd.tmp'), 'FERRYCL1 torn');
  const log = await ChunkLog.create(join(dir, 'd'), Buffer.from('h'), [], { durable: true });
  await log.close();
  assert.equal((await ChunkLog.load(join(dir, 'd')))?.header.toString(), 'h');
});

test('openNoFollow refuses a link with PATH_ESCAPES_ROOT, a fifo without blocking, and an existing name for create', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'file'), 'x');
  await symlink(join(dir, 'file'), join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  for (const mode of ['read', 'update', 'create'] as const)
    await assert.rejects(openNoFollow(join(dir, 'link'), mode), {
      code: mode === 'create' ? 'EEXIST' : 'PATH_ESCAPES_ROOT',
    });
  await assert.rejects(openNoFollow(join(dir, 'fifo'), 'read'), { code: 'PATH_INVALID' });
  await assert.rejects(openNoFollow(join(dir, 'link'), 'directory'), { code: 'PATH_ESCAPES_ROOT' });
  await assert.rejects(openNoFollow(join(dir, 'file'), 'create'), { code: 'EEXIST' });
  await (await openNoFollow(join(dir, 'file'), 'read')).close();
});

test('partialOwner: ferry only with its state file beside the data; a data file alone, a foreign state or a link is foreign', async (t) => {
  const dir = await tempDir(t);
  const paths = (name: string): { dataPath: string; logPath: string } => ({
    dataPath: join(dir, `.${name}.ferry-part`),
    logPath: join(dir, `.${name}.ferry-state`),
  });
  assert.equal(await partialOwner(paths('none')), 'none');
  await writeFile(paths('alone').dataPath, 'user data');
  assert.equal(await partialOwner(paths('alone')), 'foreign');
  await writeFile(paths('notes').logPath, 'my notes');
  assert.equal(await partialOwner(paths('notes')), 'foreign');
  await symlink('/etc/passwd', paths('link').dataPath);
  await (await ChunkLog.create(paths('link').logPath, Buffer.from('h'), [], { durable: false })).close();
  assert.equal(await partialOwner(paths('link')), 'foreign');
  await writeFile(paths('ours').dataPath, 'partial bytes');
  await (await ChunkLog.create(paths('ours').logPath, Buffer.from('h'), [], { durable: false })).close();
  assert.equal(await partialOwner(paths('ours')), 'ferry');
});

test('FilePartialStore with markWithState keeps a state file for a one-chunk file, and removes both when it finishes', async (t) => {
  const dir = await tempDir(t);
  const content = Buffer.from('one chunk only\n');
  const hash = chunkHashOf(content);
  const paths = { dataPath: join(dir, '.f.ferry-part'), logPath: join(dir, '.f.ferry-state') };
  const options = { size: content.length, mtimeMs: 0, chunkBytes: 64 * 1024, fresh: false };
  const store = new FilePartialStore({ pathsOf: () => paths }, { markWithState: true });
  const partial = await PartialTransfer.open(store, 'f', options);
  assert.equal(await partialOwner(paths), 'ferry', 'marked before a byte arrives');
  await partial.writeData(0, content);
  partial.completeChunk(0, hash);
  await partial.close();
  assert.equal(await partialOwner(paths), 'ferry', 'an interrupted one-chunk partial stays marked');
  const again = await PartialTransfer.open(store, 'f', options);
  await again.writeData(0, content);
  again.completeChunk(0, hash);
  await again.finish(
    fileDigest(content.length, 64 * 1024, [hash]),
    {
      dir,
      name: 'f',
      path: join(dir, 'f'),
      exists: false,
    },
    { mode: 0o644, overwrite: false },
  );
  assert.equal(await readFile(join(dir, 'f'), 'utf8'), 'one chunk only\n');
  assert.equal(await partialOwner(paths), 'none', 'nothing left behind');
});
