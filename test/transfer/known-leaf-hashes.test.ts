// The store of leaf hashes bound to file identity (issue 16, WARM deltas): what it gives back, and the entries
// it refuses (torn, foreign, of another version of the file, over its bounds), on a real directory.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkHashes, LEAF_BYTES } from '../../src/protocol/index.js';
import { KnownLeafHashes, worthKnowing } from '../../src/transfer/index.js';

const SIZE = 16 * 1024 * 1024 + 100; // 257 leaves, the last short

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-known-leaves-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function identityOfSize(size: number, seed = 1): Buffer {
  const id = Buffer.alloc(40);
  id.writeBigUInt64BE(7n, 0); // dev
  id.writeBigUInt64BE(BigInt(1000 + seed), 8); // inode
  id.writeBigUInt64BE(BigInt(size), 16);
  id.writeBigUInt64BE(1_700_000_000_000_000_000n + BigInt(seed), 24); // mtime ns
  id.writeBigUInt64BE(1_700_000_000_000_000_001n + BigInt(seed), 32); // ctime ns
  return id;
}

function leavesOf(size: number): ChunkHashes {
  const hashes = new ChunkHashes(size, LEAF_BYTES);
  for (let i = 0; i < hashes.count; i++) hashes.set(i, randomBytes(32));
  return hashes;
}

function entryFiles(dir: string): Promise<string[]> {
  return readdir(dir).then((names) => names.filter((name) => name.endsWith('.leaves')));
}

test('KnownLeafHashes gives back the leaf hashes and weak checksums recorded, for the same identity only', async (t) => {
  const dir = await tempDir(t);
  const store = new KnownLeafHashes(join(dir, 'leaves'));
  const identity = identityOfSize(SIZE);
  const hashes = leavesOf(SIZE);
  const weak = new Uint32Array(hashes.count).map((_, i) => (i * 2654435761) >>> 0);
  await store.record('/data/disk.img', identity, hashes);
  const found = await store.find('/data/disk.img', identity);
  assert.ok(found, 'found');
  assert.equal(found.weak, undefined, 'no weak checksums recorded yet');
  for (let i = 0; i < hashes.count; i++) assert.ok(found.hashes.get(i)!.equals(hashes.get(i)!));
  // A signing adds the weak checksums.
  await store.record('/data/disk.img', identity, hashes, weak);
  assert.deepEqual([...(await store.find('/data/disk.img', identity))!.weak!], [...weak]);
  // Another version (ctime moved), another place: misses.
  const moved = Buffer.from(identity);
  moved.writeBigUInt64BE(moved.readBigUInt64BE(32) + 1n, 32);
  assert.equal(await store.find('/data/disk.img', moved), undefined);
  assert.equal(await store.find('/data/other.img', identity), undefined);
  assert.deepEqual(store.counters, { hits: 2, misses: 2, recorded: 2, scans: 1 });
  // The entry's name is a hash of its place: no part of the path names a file.
  const names = await entryFiles(join(dir, 'leaves'));
  assert.equal(names.length, 1);
  assert.match(names[0]!, /^[0-9a-f]{40}\.leaves$/);
  assert.equal((await stat(join(dir, 'leaves'))).mode & 0o777, 0o700);
});

test('KnownLeafHashes reads a torn, flipped or foreign entry as a miss and removes it', async (t) => {
  const dir = await tempDir(t);
  const store = new KnownLeafHashes(join(dir, 'leaves'));
  const identity = identityOfSize(SIZE);
  await store.record('/a', identity, leavesOf(SIZE));
  const [name] = await entryFiles(join(dir, 'leaves'));
  const path = join(dir, 'leaves', name!);
  const whole = await readFile(path);
  // Torn: the tail lost.
  await truncate(path, whole.length - 100);
  assert.equal(await store.find('/a', identity), undefined, 'torn');
  await assert.rejects(stat(path), 'a bad entry is removed');
  // One bit flipped in a leaf hash.
  const flipped = Buffer.from(whole);
  flipped[200]! ^= 1;
  await writeFile(path, flipped);
  assert.equal(await store.find('/a', identity), undefined, 'flipped');
  // Foreign: a whole, valid entry of another place copied under this one's name.
  await store.record('/b', identity, leavesOf(SIZE));
  const other = (await entryFiles(join(dir, 'leaves')))[0]!;
  await writeFile(path, await readFile(join(dir, 'leaves', other)));
  assert.equal(await store.find('/a', identity), undefined, 'foreign');
  assert.ok(await store.find('/b', identity), 'the other place still found');
  // Junk and an empty file.
  await writeFile(path, randomBytes(5000));
  assert.equal(await store.find('/a', identity), undefined, 'junk');
  await writeFile(path, Buffer.alloc(0));
  assert.equal(await store.find('/a', identity), undefined, 'empty');
});

test('KnownLeafHashes never follows a link at an entry', async (t) => {
  const dir = await tempDir(t);
  const store = new KnownLeafHashes(join(dir, 'leaves'));
  const identity = identityOfSize(SIZE);
  await store.record('/a', identity, leavesOf(SIZE));
  const [name] = await entryFiles(join(dir, 'leaves'));
  const path = join(dir, 'leaves', name!);
  await writeFile(join(dir, 'real'), await readFile(path));
  await rm(path);
  await symlink(join(dir, 'real'), path);
  assert.equal(await store.find('/a', identity), undefined, 'a link is not read');
});

test('KnownLeafHashes keeps within its bound, the least recently used entry out first', async (t) => {
  const dir = await tempDir(t);
  const oneEntry = 24 + 32 + 40 + 8 + 257 * 32 + 32;
  const store = new KnownLeafHashes(join(dir, 'leaves'), { maxBytes: 2 * oneEntry + 10 });
  const ids = [1, 2, 3].map((seed) => identityOfSize(SIZE, seed));
  await store.record('/1', ids[0]!, leavesOf(SIZE));
  await store.record('/2', ids[1]!, leavesOf(SIZE));
  // /1 used after /2 was written: /2 is the least recently used. (Times set apart: a coarse clock.)
  const { utimes } = await import('node:fs/promises');
  const names = await entryFiles(join(dir, 'leaves'));
  for (const name of names) await utimes(join(dir, 'leaves', name), 1000, 1000);
  assert.ok(await store.find('/1', ids[0]!));
  await store.record('/3', ids[2]!, leavesOf(SIZE));
  assert.equal((await entryFiles(join(dir, 'leaves'))).length, 2);
  assert.equal(await store.find('/2', ids[1]!), undefined, 'the least recently used went');
  assert.ok(await store.find('/1', ids[0]!));
  assert.ok(await store.find('/3', ids[2]!));
});

test('KnownLeafHashes keeps no entry over its bounds, of a file not worth it, or incomplete', async (t) => {
  const dir = await tempDir(t);
  const tiny = new KnownLeafHashes(join(dir, 'tiny'), { maxBytes: 4096 });
  await tiny.record('/a', identityOfSize(SIZE), leavesOf(SIZE));
  assert.equal(tiny.counters.recorded, 0, 'an entry larger than the whole store');
  const store = new KnownLeafHashes(join(dir, 'leaves'));
  // Under 16 MiB a delta signs in blocks under a leaf: no entry.
  assert.equal(worthKnowing(16 * 1024 * 1024 - 1), false);
  await store.record('/small', identityOfSize(1024 * 1024), leavesOf(1024 * 1024));
  // Over 2^18 leaves (16 GiB): over the per-entry bound.
  assert.equal(worthKnowing(16 * 1024 * 1024 * 1024 + 1), false);
  // A leaf unknown.
  const partial = new ChunkHashes(SIZE, LEAF_BYTES);
  partial.set(0, randomBytes(32));
  await store.record('/partial', identityOfSize(SIZE), partial);
  // An identity of another size than the hashes'.
  await store.record('/size', identityOfSize(SIZE + 1), leavesOf(SIZE));
  assert.equal(store.counters.recorded, 0);
});
