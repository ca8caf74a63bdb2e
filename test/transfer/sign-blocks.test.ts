// `signBlocks` (PROTOCOL.md §5.15.2, §5.17.2): the signature of a real file in blocks under one leaf, read a
// leaf at a time, equals the one built from the bytes in memory (blocks spanning two reads included), and the
// leaf hashes it keeps are the file's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ChunkHashes,
  LEAF_BYTES,
  MAX_DELTA_RECORD_BLOCKS,
  deltaBlockBytesFor,
  deltaSignatureOf,
  leafHash,
  type DeltaBlocksMessage,
} from '../../src/protocol/index.js';
import { SourceFile, signBlocks } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('signBlocks of a real file equals the signature built in memory, with its leaf hashes', async (t) => {
  const dir = await makeTempDir('ferry-sign-blocks-');
  t.after(() => removeTempDir(dir));
  // 2304-byte blocks (not a divisor of a leaf: blocks span reads) in 2 records; 1088-byte blocks; 1 KiB.
  for (const size of [5 * 1024 * 1024 + 12_345, 1024 * 1024 + 123_456, 40 * 1024 + 7, 5000]) {
    const bytes = randomBytes(size);
    const path = join(dir, `f${size}`);
    await writeFile(path, bytes);
    const blockBytes = deltaBlockBytesFor(size);
    const records: DeltaBlocksMessage[] = [];
    const leaves = new ChunkHashes(size, LEAF_BYTES);
    const source = await SourceFile.open(path, { noFollow: true });
    try {
      await signBlocks(
        source,
        9,
        blockBytes,
        (r) => {
          records.push(r);
          return Promise.resolve();
        },
        leaves,
      );
    } finally {
      await source.close();
    }
    const expected = deltaSignatureOf(bytes, blockBytes);
    assert.ok(records.every((r) => r.ref === 9 && r.oldSize === size && r.blockBytes === blockBytes));
    assert.ok(records.every((r) => r.weak.length <= MAX_DELTA_RECORD_BLOCKS));
    if (size > 4 * 1024 * 1024) assert.equal(records.length, 2, 'more blocks than one record holds');
    assert.deepEqual(
      records.map((r) => r.firstBlock),
      records.map((_, i) => i * MAX_DELTA_RECORD_BLOCKS),
    );
    assert.deepEqual(
      records.flatMap((r) => [...r.weak]),
      [...expected.weak],
    );
    assert.ok(Buffer.concat(records.map((r) => r.strong)).equals(expected.strong), `strong, ${size} bytes`);
    for (let leaf = 0; leaf < leaves.count; leaf++)
      assert.ok(
        leaves.get(leaf)!.equals(leafHash(bytes.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES))),
        `leaf ${leaf} of ${size} bytes`,
      );
  }
});
