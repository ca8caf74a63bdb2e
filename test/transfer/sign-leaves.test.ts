// `signLeaves` (PROTOCOL.md §5.15.2, §5.17.2): the signature of a real file in leaves, read 64 leaves at a
// time with the leaf hashes taken on the leaf hash thread (a short last leaf on the caller's), equals the one built from the bytes in memory, and the leaf
// hashes it keeps are the file's: several pieces (a record each), a short last leaf, one leaf, a file under
// one leaf, none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ChunkHashes,
  LEAF_BYTES,
  deltaSignatureOf,
  leafHash,
  type DeltaBlocksMessage,
} from '../../src/protocol/index.js';
import { SourceFile, signLeaves } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('signLeaves of a real file equals the signature built in memory, with its leaf hashes', async (t) => {
  const dir = await makeTempDir('ferry-sign-leaves-');
  t.after(() => removeTempDir(dir));
  // 150 leaves and a short one (three reads of 64 leaves), exactly 64 leaves, one leaf, under one, empty.
  for (const size of [150 * LEAF_BYTES + 777, 64 * LEAF_BYTES, LEAF_BYTES, 5000, 0]) {
    const bytes = randomBytes(size);
    const path = join(dir, `f${size}`);
    await writeFile(path, bytes);
    const records: DeltaBlocksMessage[] = [];
    const leaves = new ChunkHashes(size, LEAF_BYTES);
    const source = await SourceFile.open(path, { noFollow: true });
    try {
      await signLeaves(source, 7, leaves, (r) => {
        records.push(r);
        return Promise.resolve();
      });
    } finally {
      await source.close();
    }
    const expected = deltaSignatureOf(bytes, LEAF_BYTES);
    // A record per 64 leaves read, sent as it is signed (so a delta download's scan follows the signing).
    const blocks = Math.ceil(size / LEAF_BYTES);
    assert.equal(records.length, Math.ceil(blocks / 64), `records of ${size} bytes`);
    assert.ok(records.every((r) => r.ref === 7 && r.oldSize === size && r.blockBytes === LEAF_BYTES));
    assert.deepEqual(
      records.map((r) => [r.firstBlock, r.weak.length]),
      records.map((_, i) => [i * 64, Math.min(64, blocks - i * 64)]),
    );
    assert.deepEqual(
      records.flatMap((r) => [...r.weak]),
      [...expected.weak],
    );
    assert.ok(Buffer.concat(records.map((r) => r.strong)).equals(expected.strong), `strong, ${size} bytes`);
    for (let leaf = 0; leaf * LEAF_BYTES < size; leaf++)
      assert.ok(
        leaves.get(leaf)!.equals(leafHash(bytes.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES))),
        `leaf ${leaf} of ${size} bytes`,
      );
  }
});
