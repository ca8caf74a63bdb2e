// PlacedLeaves (the download client's placing, on the per-leaf rule LeafPlacing shared with the upload's
// server): every PLACED_SYNC_BYTES placed, a sync of the partial starts behind them (issue 16: the sync after
// the leaves are accepted then has little left to write), vouching for nothing; and a leaf written over
// while its placing write is in flight is never accepted. A real PartialTransfer over the memory store, whose
// crash() keeps only what was made durable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PlacedLeaves } from '../../src/client/placed-leaves.js';
import {
  LEAF_BYTES,
  leafHash,
  releaseWeakChecksumBuffer,
  takeWeakChecksumBuffer,
} from '../../src/protocol/index.js';
import { FilePartialStore, MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const LEAVES = 6;
const SIZE = LEAVES * LEAF_BYTES;
const HEADER = { size: SIZE, mtimeMs: 0, chunkBytes: LEAF_BYTES };

test('PlacedLeaves syncs the partial behind every syncBytes placed, vouching for nothing', async () => {
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', { ...HEADER, fresh: true });
  // The syncs the placing starts, counted and awaited here (the placing itself never waits for them).
  const syncs: Array<Promise<void>> = [];
  const syncWritten = partial.syncWritten.bind(partial);
  partial.syncWritten = () => {
    const sync = syncWritten();
    syncs.push(sync);
    return sync;
  };
  const placed = randomBytes(SIZE);
  const leaves = Array.from({ length: LEAVES }, (_, i) =>
    placed.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES),
  );
  // 4 leaves a sync; placed a run of two at a time, as a scan places them.
  const placing = new PlacedLeaves(partial, SIZE, 4 * LEAF_BYTES);
  for (let first = 0; first < LEAVES; first += 2) {
    placing.place(first, leaves.slice(first, first + 2));
    await placing.settle();
  }
  await Promise.all(syncs);
  assert.equal(syncs.length, 1, 'one sync, behind the first 4 leaves');
  store.crash();
  const stored = await store.open('k', HEADER, { fresh: false, keepLog: true });
  const durable = Buffer.alloc(SIZE);
  await stored.read(0, durable);
  await stored.close();
  assert.ok(
    durable.subarray(0, 4 * LEAF_BYTES).equals(placed.subarray(0, 4 * LEAF_BYTES)),
    'the first 4 leaves placed survive the crash',
  );
  assert.ok(
    !durable.subarray(4 * LEAF_BYTES).equals(placed.subarray(4 * LEAF_BYTES)),
    'the 2 placed after it were not synced',
  );
  const reopened = await PartialTransfer.open(store, 'k', { ...HEADER, fresh: false });
  assert.equal(reopened.verifiedBytes, 0, 'nothing vouched for');
  await reopened.close();
});

test('PlacedLeaves: a leaf written over while its placing write is in flight is not accepted; the rest are', async () => {
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', { ...HEADER, fresh: true });
  const old = randomBytes(SIZE);
  const leaves = Array.from({ length: LEAVES }, (_, i) => old.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES));
  const placing = new PlacedLeaves(partial, SIZE);
  placing.place(0, leaves);
  // Written over before the placing write landed: overwrite waits for it, so the other write stays.
  await placing.overwrite(3);
  assert.equal(placing.has(3), false);
  const accepted = await placing.accept(
    () => Promise.resolve(true),
    (index) => leafHash(leaves[index]!),
  );
  assert.deepEqual(accepted, [0, 1, 2, 4, 5]);
  assert.equal(
    await placing
      .accept(
        () => Promise.resolve(true),
        (index) => leafHash(leaves[index]!),
      )
      .then((a) => a.length),
    0,
    'each leaf is taken once; placing stopped',
  );
  await partial.close();
});

test('PlacedLeaves starts no sync behind leaves placed around the page cache: they are on the disk once landed', async (t) => {
  const dir = await makeTempDir('ferry-placed-direct-');
  t.after(() => removeTempDir(dir));
  try {
    await (
      await open(join(dir, 'probe'), constants.O_CREAT | constants.O_WRONLY | constants.O_DIRECT)
    ).close();
  } catch {
    t.skip('no direct I/O on this file system');
    return;
  }
  const store = new FilePartialStore<string>({
    pathsOf: () => ({ dataPath: join(dir, 'part'), logPath: join(dir, 'state') }),
  });
  const partial = await PartialTransfer.open(store, 'k', { ...HEADER, fresh: true });
  t.after(() => partial.close());
  let syncs = 0;
  const syncWritten = partial.syncWritten.bind(partial);
  partial.syncWritten = () => {
    syncs++;
    return syncWritten();
  };
  const direct: boolean[] = [];
  const placeUnverified = partial.placeUnverified.bind(partial);
  partial.placeUnverified = async (offset, pieces, options) => {
    const wrote = await placeUnverified(offset, pieces, options);
    direct.push(wrote);
    return wrote;
  };
  // Page-aligned memory, as a scan's read buffers are: the leaves go around the page cache.
  const memory = takeWeakChecksumBuffer(SIZE);
  t.after(() => releaseWeakChecksumBuffer(memory));
  randomBytes(SIZE).copy(memory);
  const leaves = Array.from({ length: LEAVES }, (_, i) =>
    memory.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES),
  );
  // 2 leaves a sync, were they placed through the page cache.
  const placing = new PlacedLeaves(partial, SIZE, 2 * LEAF_BYTES);
  for (let first = 0; first < LEAVES; first += 2) {
    placing.place(first, leaves.slice(first, first + 2), true);
    await placing.settle();
  }
  assert.deepEqual(direct, [true, true, true], 'every run went around the page cache');
  assert.equal(syncs, 0, 'no sync behind them');
  const accepted = await placing.accept(
    () => Promise.resolve(true),
    (index) => leafHash(leaves[index]!),
  );
  assert.equal(accepted.length, LEAVES, 'the leaves placed count once accepted');
});
