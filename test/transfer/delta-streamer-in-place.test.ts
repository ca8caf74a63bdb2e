// streamDeltaChunks with the new file's leaves hashed ahead (LeafHashesAhead): a chunk whose every leaf is the
// old file's block at the same offset is sent as one copy in place without being read or scanned (issue 16:
// a file changed in place was read twice), with the same pieces and chunk hashes as a scan of every chunk; a
// match carried into such a chunk from the one before still has it read and scanned. Real files; the reads
// the stream makes are counted on the way to the real file.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkHashes, LEAF_BYTES, chunkHashOf } from '../../src/protocol/index.js';
import { LeafHashesAhead, SourceFile, type ChunkSource } from '../../src/transfer/index.js';
import { deltaStreamPieces } from '../helpers/delta-stream-pieces.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 8 * LEAF_BYTES;

interface Streamed {
  pieces: string[];
  hashes: ChunkHashes;
  /** The chunks whose window the stream read (by the offset each read started at). */
  readChunks: number[];
}

async function stream(
  t: TestContext,
  old: Buffer,
  next: Buffer,
  ahead: 'none' | 'hashed' | 'hashing',
): Promise<Streamed> {
  const dir = await makeTempDir('ferry-delta-in-place-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, next);
  const file = await SourceFile.open(path, { noFollow: true });
  try {
    // 'hashing': the stream starts while the leaves are still being hashed ahead, and waits for them.
    const leaves = ahead === 'none' ? undefined : LeafHashesAhead.start(file);
    if (ahead === 'hashed') await leaves!.settled();
    // The file itself, the stream's reads noted (the hashing ahead reads the file, not through this).
    const readChunks: number[] = [];
    const source: ChunkSource = {
      size: file.size,
      mtimeMs: file.mtimeMs,
      mode: file.mode,
      identity: file.identity,
      readExactly: (buffer, offset, length, position) => {
        readChunks.push(position / CHUNK_BYTES);
        return file.readExactly(buffer, offset, length, position);
      },
      readvExactly: (buffers, position) => file.readvExactly(buffers, position),
      chunkHash: (index, chunkBytes) => file.chunkHash(index, chunkBytes),
      assertUnchanged: () => file.assertUnchanged(),
      close: () => file.close(),
    };
    const { pieces, hashes } = await deltaStreamPieces(source, old, CHUNK_BYTES, leaves);
    await leaves?.settled();
    return { pieces, hashes, readChunks };
  } finally {
    await file.close();
  }
}

function assertChunkHashes(streamed: Streamed, next: Buffer): void {
  for (let i = 0; i < streamed.hashes.count; i++)
    assert.ok(
      streamed.hashes.get(i)!.equals(chunkHashOf(next.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES))),
      `chunk ${i}: the hash of its bytes`,
    );
}

test('streamDeltaChunks: chunks found in place whole from the hashes ahead are sent unread, the same pieces', async (t) => {
  const old = randomBytes(48 * LEAF_BYTES);
  const next = Buffer.from(old);
  // Rewritten in place in chunk 1 (leaf 9) and chunk 3 (leaf 30); chunks 0, 2, 4 and 5 are the old ones.
  randomBytes(3000).copy(next, 9 * LEAF_BYTES + 100);
  randomBytes(LEAF_BYTES).copy(next, 30 * LEAF_BYTES);
  const scanned = await stream(t, old, next, 'none');
  assert.deepEqual(scanned.readChunks, [0, 1, 2, 3, 4, 5], 'without hashes ahead every chunk is read');
  for (const ahead of ['hashed', 'hashing'] as const) {
    const placed = await stream(t, old, next, ahead);
    assert.deepEqual(placed.pieces, scanned.pieces, `${ahead}: the pieces of a scan of every chunk`);
    assert.ok(placed.pieces.includes(`copy 0+${CHUNK_BYTES}@0`), `${ahead}: chunk 0, one copy in place`);
    assert.deepEqual(placed.readChunks, [1, 3], `${ahead}: only the chunks changed are read`);
    assertChunkHashes(placed, next);
  }
});

test('streamDeltaChunks: a match carried into a chunk found in place has it read and scanned', async (t) => {
  // Zeros: every block is every other one, so after the byte changed in chunk 1 the matches run off the leaf
  // boundaries and the last one past chunk 1's end, while chunk 2's leaves are the old ones in place.
  const old = Buffer.alloc(32 * LEAF_BYTES);
  const next = Buffer.from(old);
  next[CHUNK_BYTES + 5000] = 1;
  const scanned = await stream(t, old, next, 'none');
  const placed = await stream(t, old, next, 'hashed');
  assert.ok(
    scanned.pieces.some(
      (p) => p.startsWith(`copy ${2 * CHUNK_BYTES}+`) && !p.endsWith(`@${2 * CHUNK_BYTES}`),
    ),
    'a match carried into chunk 2, off its place',
  );
  assert.deepEqual(placed.pieces, scanned.pieces, 'the pieces of a scan of every chunk');
  assert.ok(placed.readChunks.includes(2), 'chunk 2, carried into, is read');
  assertChunkHashes(placed, next);
});
