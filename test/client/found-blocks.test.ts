// `FoundBlocks` (PROTOCOL.md §5.17.4): the new file's bytes read back from a real old file where its blocks
// were found, through one open handle, with no copy of the new file: runs of blocks found one after the other,
// blocks found out of order or twice, ranges starting and ending inside a block, and zeros for the blocks not
// found (so a piece the server leaves out fails the chunk's hash). A change to the old file after the scan is
// read as it is now: the chunk's hash, not this class, catches it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LEAF_BYTES } from '../../src/protocol/index.js';
import { SourceFile } from '../../src/transfer/index.js';
import { FoundBlocks } from '../../src/client/delta-blocks-download.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const BLOCK = 1024;

test('FoundBlocks reads the new file from where its blocks lie in the old one, zeros where none was found', async (t) => {
  const dir = await makeTempDir('ferry-found-blocks-');
  t.after(() => removeTempDir(dir));
  const oldBytes = randomBytes(200 * BLOCK + 300);
  const path = join(dir, 'old');
  await writeFile(path, oldBytes);
  // A new file of 2 leaves and 500 bytes (130 blocks, the last short): blocks 0-59 in place, 60-69 not found,
  // 70-99 shifted by 3 bytes, 100 and 101 swapped, 102-128 the same old block, block 129 (500 bytes) from
  // the old file's last 500.
  const size = 2 * LEAF_BYTES + 500;
  const at = new Float64Array(130).fill(-1);
  for (let b = 0; b < 60; b++) at[b] = b * BLOCK;
  for (let b = 70; b < 100; b++) at[b] = b * BLOCK + 3;
  at[100] = 101 * BLOCK;
  at[101] = 100 * BLOCK;
  for (let b = 102; b < 129; b++) at[b] = 150 * BLOCK;
  at[129] = oldBytes.length - 500;
  const expected = Buffer.alloc(size);
  for (let b = 0; b < at.length; b++) {
    const length = Math.min(BLOCK, size - b * BLOCK);
    if (at[b]! >= 0) oldBytes.copy(expected, b * BLOCK, at[b], at[b]! + length);
  }
  const old = await SourceFile.open(path, { noFollow: true });
  t.after(() => old.close());
  const found = new FoundBlocks(old, at, size, BLOCK);
  found.patch(0);
  assert.ok(found.isPatched(0) && !found.isPatched(1));
  assert.deepEqual(found.patchedLeaves(), [0]);
  assert.equal(found.leafLength(2), 500);
  // Whole leaves, and ranges cut inside blocks (the bytes around a piece).
  const ranges: Array<[number, number]> = [
    [0, LEAF_BYTES],
    [LEAF_BYTES, 2 * LEAF_BYTES],
    [2 * LEAF_BYTES, size],
    [59 * BLOCK + 17, 71 * BLOCK + 5],
    [99 * BLOCK + 1000, 103 * BLOCK + 1],
    [size - 1, size],
  ];
  for (const [from, to] of ranges)
    assert.ok((await found.read(from, to)).equals(expected.subarray(from, to)), `bytes ${from}..${to}`);
  assert.ok((await found.read(60 * BLOCK, 70 * BLOCK)).equals(Buffer.alloc(10 * BLOCK)), 'not found: zeros');
  await assert.rejects(found.read(0, LEAF_BYTES + 1), RangeError, 'more than one leaf');
  await assert.rejects(found.read(size - 10, size + 1), RangeError, 'past the end');
  // Rewritten after the scan, in place: read as it is now (the partial's chunk hash then refuses it).
  rewriteKeepingSizeAndMtime(path, 5 * BLOCK, 1);
  const now = await found.read(0, LEAF_BYTES);
  assert.ok(
    now.subarray(5 * BLOCK, 5 * BLOCK + 100).equals(Buffer.alloc(100, 0x58)),
    'the old file as it is now',
  );
  assert.ok(!now.equals(expected.subarray(0, LEAF_BYTES)));
});
