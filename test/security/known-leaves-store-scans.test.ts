// The store of known leaf hashes (issue 16, `KnownLeafHashes`) is written at every finish of a file of 16 MiB
// or more, on the server for any client that may upload. Each record read the whole store's directory and
// lstat'ed every entry to keep within its bound: a full store (64 MiB of 16 MiB files' entries, ~7,700) cost
// ~80 ms of CPU per record here (160 ms wall, at 3,000 entries under load), more than receiving the file, and
// every delta offer's lookup waits behind the records queued. A client sending 16 MiB files (or same-size
// deltas of them, a few KiB on the wire each) made the server scan the directory per file. Now the store keeps
// what it scanned and wrote in memory and reads the directory again only after an eighth of its bound was
// written (other processes' entries are then counted), still evicting the least recently used first. On a
// real directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkHashes, LEAF_BYTES } from '../../src/protocol/index.js';
import { KnownLeafHashes } from '../../src/transfer/index.js';

const SIZE = 16 * 1024 * 1024; // the smallest file worth an entry: the most entries a bound holds
const ENTRY_BYTES = 24 + 32 + 40 + 8 + 256 * 32 + 32;
const KEPT = 64; // entries the bound holds
const RECORDS = 512;

function identityOf(seed: number): Buffer {
  const id = Buffer.alloc(40);
  id.writeBigUInt64BE(7n, 0);
  id.writeBigUInt64BE(BigInt(1000 + seed), 8);
  id.writeBigUInt64BE(BigInt(SIZE), 16);
  id.writeBigUInt64BE(1_700_000_000_000_000_000n + BigInt(seed), 24);
  id.writeBigUInt64BE(1_700_000_000_000_000_001n + BigInt(seed), 32);
  return id;
}

async function storeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

test('recording many files into a full store of leaf hashes reads its directory once per eighth of its bound, not once per file, and keeps within the bound', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-known-leaves-scans-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const leaves = join(dir, 'leaves');
  const maxBytes = KEPT * ENTRY_BYTES;
  const store = new KnownLeafHashes(leaves, { maxBytes });
  const hashes = new ChunkHashes(SIZE, LEAF_BYTES);
  for (let i = 0; i < hashes.count; i++) hashes.set(i, randomBytes(32));
  for (let i = 0; i < RECORDS; i++) {
    await store.record(`/root/file-${i}`, identityOf(i), hashes);
    assert.ok((await storeBytes(leaves)) <= maxBytes, `within the bound after record ${i}`);
  }
  assert.equal(store.counters.recorded, RECORDS);
  const perScan = Math.floor(maxBytes / 8 / ENTRY_BYTES);
  assert.ok(
    store.counters.scans <= Math.ceil(RECORDS / perScan) + 1,
    `${store.counters.scans} scans of the directory for ${RECORDS} records`,
  );
  // Still the least recently used out first: the latest records are kept, the earliest gone.
  assert.ok(await store.find(`/root/file-${RECORDS - 1}`, identityOf(RECORDS - 1)), 'the newest is kept');
  assert.equal(await store.find('/root/file-0', identityOf(0)), undefined, 'the oldest went');
  // One used again is kept over newer ones.
  const used = RECORDS - KEPT / 2;
  assert.ok(await store.find(`/root/file-${used}`, identityOf(used)));
  for (let i = RECORDS; i < RECORDS + KEPT - 1; i++)
    await store.record(`/root/file-${i}`, identityOf(i), hashes);
  assert.ok(await store.find(`/root/file-${used}`, identityOf(used)), 'the entry used again is kept');
});
