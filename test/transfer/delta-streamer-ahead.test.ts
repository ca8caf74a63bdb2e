// streamDeltaChunks with the new file's leaves hashed ahead (LeafHashesAhead, while a delta upload's
// signature arrives): the same pieces and chunk hashes as without, the hashes the file's own; and a source
// rewritten after it was hashed ahead (size and mtime kept: only the ctime moves) fails with SOURCE_CHANGED
// instead of sending chunk hashes of bytes it no longer holds. Real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkHashes, LEAF_BYTES, chunkHashOf } from '../../src/protocol/index.js';
import { LeafHashesAhead, SourceFile } from '../../src/transfer/index.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';
import { deltaStreamPieces } from '../helpers/delta-stream-pieces.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 256 * 1024;
const old = randomBytes(40 * LEAF_BYTES + 999);
// In place at leaf 3, 1 KiB inserted at leaf 20: matches on and off leaf boundaries, and a short last leaf.
const next = Buffer.concat([
  old.subarray(0, 20 * LEAF_BYTES),
  randomBytes(1024),
  old.subarray(20 * LEAF_BYTES),
]);
randomBytes(500).copy(next, 3 * LEAF_BYTES + 10);

async function stream(
  path: string,
  ahead: 'none' | 'hashed' | 'rewritten',
): Promise<{ pieces: string[]; hashes: ChunkHashes }> {
  const source = await SourceFile.open(path, { noFollow: true });
  try {
    let leaves: LeafHashesAhead | undefined;
    if (ahead !== 'none') {
      leaves = LeafHashesAhead.start(source);
      await leaves.settled();
      assert.equal(leaves.hashes.knownCount, leaves.hashes.count, 'every leaf hashed ahead');
      if (ahead === 'rewritten') rewriteKeepingSizeAndMtime(path, 30 * LEAF_BYTES, 1_700_000_000);
    }
    return await deltaStreamPieces(source, old, CHUNK_BYTES, leaves);
  } finally {
    await source.close();
  }
}

test('streamDeltaChunks with leaves hashed ahead: the same pieces and the file’s own chunk hashes', async (t) => {
  const dir = await makeTempDir('ferry-ahead-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, next);
  const plain = await stream(path, 'none');
  const ahead = await stream(path, 'hashed');
  assert.deepEqual(ahead.pieces, plain.pieces);
  assert.ok(plain.pieces.some((p) => p.startsWith('copy')) && plain.pieces.some((p) => p.startsWith('data')));
  for (let i = 0; i < ahead.hashes.count; i++)
    assert.ok(
      ahead.hashes.get(i)!.equals(chunkHashOf(next.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES))),
      `chunk ${i}`,
    );
});

test('streamDeltaChunks: a source rewritten after its leaves were hashed ahead fails with SOURCE_CHANGED', async (t) => {
  const dir = await makeTempDir('ferry-ahead-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, next);
  await assert.rejects(stream(path, 'rewritten'), (err: { code?: string }) => err.code === 'SOURCE_CHANGED');
});
