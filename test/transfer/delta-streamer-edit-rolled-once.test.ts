// streamDeltaChunks while a delta upload's signature still arrives, the new file's leaves hashed ahead: a
// chunk changed in place between chunks found in place is scanned once, over the whole signature, not once
// with part of it and again with all of it (issue 16: a cold upload rolled each rewritten span twice), and
// sends the same pieces and chunk hashes as a scan over the whole signature. Real files; the records'
// arrival is held and released by the test (events, no timers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkHashes, DeltaMatcher, LEAF_BYTES, deltaSignatureOf } from '../../src/protocol/index.js';
import {
  LeafHashesAhead,
  SourceFile,
  streamDeltaChunks,
  type UploadSignatureArrival,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 8 * LEAF_BYTES;
const old = randomBytes(160 * LEAF_BYTES);
const next = Buffer.from(old);
randomBytes(2 * LEAF_BYTES).copy(next, 9 * LEAF_BYTES); // leaves 9 and 10 (chunk 1) rewritten in place
const signature = deltaSignatureOf(old, LEAF_BYTES);

/** Blocks up to 100 are in (chunk 1 is scanned 64 blocks ahead of its end); the rest once the stream waits. */
function heldArrival(): UploadSignatureArrival {
  let held = 100;
  const beyond: Array<() => void> = [];
  return {
    totalBlocks: signature.weak.length,
    waitFor(blocks) {
      if (blocks <= held) return Promise.resolve(held);
      held = signature.weak.length;
      queueMicrotask(() => beyond.splice(0).forEach((wake) => wake()));
      return new Promise((resolve) => beyond.push(() => resolve(held)));
    },
  };
}

async function stream(path: string, arriving?: UploadSignatureArrival) {
  const source = await SourceFile.open(path, { noFollow: true });
  try {
    const ahead = LeafHashesAhead.start(source);
    const hashes = new ChunkHashes(source.size, CHUNK_BYTES);
    const pieces: string[] = [];
    const note = (piece: string): Promise<void> => {
      pieces.push(piece);
      return Promise.resolve();
    };
    const matcher = new DeltaMatcher(signature, undefined, arriving ? 0 : signature.weak.length);
    await streamDeltaChunks(source, {
      chunkBytes: CHUNK_BYTES,
      chunks: Array.from({ length: hashes.count }, (_, i) => i)[Symbol.iterator](),
      hashes,
      matcher,
      ahead,
      arriving,
      sink: {
        sendCopy: (offset, oldOffset, length) => note(`copy ${offset}+${length}@${oldOffset}`),
        sendData: (offset, data) => note(`data ${offset}+${data.length}`),
        sendChunk: (index) => note(`chunk ${index}`),
      },
    });
    await ahead.stop();
    return { pieces, hashes, rolled: matcher.rolledOffsets };
  } finally {
    await source.close();
  }
}

test('streamDeltaChunks rolls over a span changed in place once while the signature arrives, the same pieces', async (t) => {
  const dir = await makeTempDir('ferry-delta-rolled-once-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, next);
  const whole = await stream(path);
  const arriving = await stream(path, heldArrival());
  assert.deepEqual([...arriving.pieces].sort(), [...whole.pieces].sort(), 'the same pieces');
  for (let i = 0; i < whole.hashes.count; i++)
    assert.ok(arriving.hashes.get(i)!.equals(whole.hashes.get(i)!), `chunk ${i}: the same hash`);
  const literal = whole.pieces.filter((p) => p.startsWith('data ')).map((p) => Number(p.split('+')[1]));
  assert.equal(
    literal.reduce((sum, bytes) => sum + bytes, 0),
    2 * LEAF_BYTES,
    'the rewritten leaves sent as data',
  );
  // The two rewritten leaves rolled over once, as over the whole signature (twice before).
  assert.ok(whole.rolled <= 2 * LEAF_BYTES, `${whole.rolled} offsets rolled over the whole signature`);
  assert.ok(arriving.rolled <= whole.rolled, `${arriving.rolled} offsets rolled while it arrived`);
});
