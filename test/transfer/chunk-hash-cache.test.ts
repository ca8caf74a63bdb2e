// ChunkHashCache: the client's chunk hashes of a file it sends, kept for a resume (PROTOCOL.md §5.4) while
// the file's identity is unchanged. Real files in a temporary directory.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkHashCache, SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;

async function fixture(t: TestContext): Promise<{ path: string; cacheDir: string }> {
  const dir = await makeTempDir('ferry-hash-cache-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'f.bin');
  await writeRandomFile(path, 4 * CHUNK_BYTES);
  return { path, cacheDir: join(dir, 'cache') };
}

async function openCache(path: string, cacheDir: string): Promise<ChunkHashCache> {
  const source = await SourceFile.open(path);
  try {
    return await ChunkHashCache.open(cacheDir, path, source, CHUNK_BYTES);
  } finally {
    await source.close();
  }
}

async function cacheFile(cacheDir: string): Promise<string> {
  const names = await readdir(cacheDir);
  assert.equal(names.length, 1, `one cache file: ${names.join(', ')}`);
  return join(cacheDir, names[0]!);
}

const hash = (n: number): Buffer => Buffer.alloc(32, n);

test('ChunkHashCache reopened for the same file appends to its file as it stands (issue 14: no rewrite at a resume)', async (t) => {
  const { path, cacheDir } = await fixture(t);
  const first = await openCache(path, cacheDir);
  await first.record({ index: 0, hash: hash(1) });
  await first.record({ index: 1, hash: hash(2) });
  await first.close();
  const file = await cacheFile(cacheDir);
  const { ino } = await stat(file);

  const second = await openCache(path, cacheDir);
  assert.deepEqual([second.get(0), second.get(1), second.get(2)], [hash(1), hash(2), undefined]);
  assert.equal((await stat(file)).ino, ino, 'the same file, not replaced');
  await second.record({ index: 2, hash: hash(3) });
  await second.close();

  const third = await openCache(path, cacheDir);
  assert.deepEqual([third.get(0), third.get(1), third.get(2)], [hash(1), hash(2), hash(3)]);
  await third.remove();
  assert.deepEqual(await readdir(cacheDir), [], 'removed once the transfer is complete');
});

test('ChunkHashCache keeps the intact entries of a torn cache file, and forgets every hash once the file changed', async (t) => {
  const { path, cacheDir } = await fixture(t);
  const first = await openCache(path, cacheDir);
  await first.record({ index: 0, hash: hash(1) });
  await first.record({ index: 1, hash: hash(2) });
  await first.close();
  const file = await cacheFile(cacheDir);
  await truncate(file, (await stat(file)).size - 1);

  const torn = await openCache(path, cacheDir);
  assert.deepEqual([torn.get(0), torn.get(1)], [hash(1), undefined], 'the torn last entry is dropped');
  await torn.record({ index: 1, hash: hash(2) });
  await torn.close();
  const again = await openCache(path, cacheDir);
  assert.deepEqual([again.get(0), again.get(1)], [hash(1), hash(2)], 'entries after the tear are read back');
  await again.close();

  await appendFile(path, 'more');
  const changed = await openCache(path, cacheDir);
  assert.equal(changed.get(0), undefined, 'another identity: nothing cached is used');
  await changed.close();
});

test('ChunkHashCache opened for the same file by several senders at once: each gets a cache, none fails (the same source sent to two servers from one home)', async (t) => {
  const { path, cacheDir } = await fixture(t);
  // A cache of another version of the file, so every open rewrites it through a temporary.
  const stale = await openCache(path, cacheDir);
  await stale.record({ index: 0, hash: hash(9) });
  await stale.close();
  await appendFile(path, Buffer.alloc(1));
  const caches = await Promise.all(Array.from({ length: 8 }, () => openCache(path, cacheDir)));
  for (const cache of caches) assert.equal(cache.get(0), undefined, 'the old version forgotten');
  await Promise.all(caches.map((cache) => cache.close()));
  assert.deepEqual(
    (await readdir(cacheDir)).filter((name) => name.endsWith('.tmp')),
    [],
    'no temporary left behind',
  );
});
