// streamDeltaChunks while a delta upload's signature still arrives (PROTOCOL.md §5.15.2, issue 16: the
// client's scan beside the server's signing): a chunk of copies alone goes as soon as the blocks it needs
// are in, a chunk with literal bytes waits for the whole signature and no PUT_DATA goes before it, and the
// pieces and chunk hashes are those of a scan over the whole signature. Real files; the records' arrival is
// held and released by the test (events, no timers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ChunkHashes,
  DeltaMatcher,
  LEAF_BYTES,
  deltaSignatureOf,
  type DeltaSignature,
} from '../../src/protocol/index.js';
import { SourceFile, streamDeltaChunks, type UploadSignatureArrival } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 4 * LEAF_BYTES;
const old = randomBytes(160 * LEAF_BYTES + 999);
// 500 bytes inserted in leaf 1 (chunk 0, after leaf 0 found in place) and 1 KiB at leaf 20 (chunk 5):
// literals in those two chunks, copies alone everywhere else (the shifts carried from chunk to chunk). Leaf 0
// found in place leaves a leaf hint in the read buffer, which chunk 1, read into it while chunk 0 waits, must
// not take: a scanned chunk kept for later forgets its hints.
const next = Buffer.concat([
  old.subarray(0, LEAF_BYTES + 10),
  randomBytes(500),
  old.subarray(LEAF_BYTES + 10, 20 * LEAF_BYTES),
  randomBytes(1024),
  old.subarray(20 * LEAF_BYTES),
]);
const signature = deltaSignatureOf(old, LEAF_BYTES);
/** Blocks arrived before the test releases the rest: enough for chunks 0-7 (each waits 64 blocks ahead). */
const HELD_AT = 100;

/** The records' arrival: blocks up to `held` are in; the rest come when the test calls `release`. */
class HeldArrival implements UploadSignatureArrival {
  readonly totalBlocks = signature.weak.length;
  #held = HELD_AT;
  readonly #beyond: Array<() => void> = [];
  #sawBeyond!: () => void;
  /** Resolves once the stream waits for a block not yet in. */
  readonly waitingBeyond = new Promise<void>((resolve) => (this.#sawBeyond = resolve));
  released = false;

  waitFor(blocks: number): Promise<number> {
    if (blocks <= this.#held) return Promise.resolve(this.#held);
    this.#sawBeyond();
    return new Promise((resolve) => this.#beyond.push(() => resolve(this.#held)));
  }

  release(): void {
    this.released = true;
    this.#held = this.totalBlocks;
    for (const wake of this.#beyond.splice(0)) wake();
  }
}

interface Streamed {
  pieces: string[];
  hashes: ChunkHashes;
  /** Pieces sent before the whole signature was in (with an arrival held by the test). */
  early: string[];
  literalBytes: number;
}

async function stream(path: string, sig: DeltaSignature, arrival?: HeldArrival): Promise<Streamed> {
  const source = await SourceFile.open(path, { noFollow: true });
  try {
    const hashes = new ChunkHashes(source.size, CHUNK_BYTES);
    const pieces: string[] = [];
    const early: string[] = [];
    const note = (piece: string): Promise<void> => {
      pieces.push(piece);
      if (arrival && !arrival.released) early.push(piece);
      return Promise.resolve();
    };
    const streaming = streamDeltaChunks(source, {
      chunkBytes: CHUNK_BYTES,
      chunks: Array.from({ length: hashes.count }, (_, i) => i)[Symbol.iterator](),
      hashes,
      matcher: new DeltaMatcher(sig, undefined, arrival ? 0 : sig.weak.length),
      arriving: arrival,
      sink: {
        sendCopy: (offset, oldOffset, length) => note(`copy ${offset}+${length}@${oldOffset}`),
        sendData: (offset, data) => note(`data ${offset}+${data.length}`),
        sendChunk: (index) => note(`chunk ${index}`),
      },
    });
    if (arrival) {
      await arrival.waitingBeyond;
      arrival.release();
    }
    const { literalBytes } = await streaming;
    return { pieces, hashes, early, literalBytes };
  } finally {
    await source.close();
  }
}

test('streamDeltaChunks while the signature arrives: copies-only chunks go early, literals only after the last record, the same pieces as over the whole signature', async (t) => {
  const dir = await makeTempDir('ferry-delta-arriving-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, next);
  const whole = await stream(path, signature);
  const arriving = await stream(path, signature, new HeldArrival());

  const earlyChunks = arriving.early.filter((p) => p.startsWith('chunk ')).map((p) => Number(p.slice(6)));
  assert.deepEqual(earlyChunks, [1, 2, 3, 4, 6, 7], 'the chunks of copies alone within reach went first');
  assert.ok(!arriving.early.some((p) => p.startsWith('data ')), 'no PUT_DATA before the whole signature');
  assert.ok(
    arriving.pieces.indexOf('chunk 0') > arriving.pieces.indexOf('chunk 8'),
    'the chunks with literals went after the others',
  );
  assert.deepEqual([...arriving.pieces].sort(), [...whole.pieces].sort(), 'the same pieces');
  assert.equal(arriving.literalBytes, whole.literalBytes, 'the same literal bytes');
  assert.ok(whole.literalBytes < 2 * LEAF_BYTES + 1524, 'literals: about a block around each insertion');
  for (let i = 0; i < whole.hashes.count; i++)
    assert.ok(arriving.hashes.get(i)!.equals(whole.hashes.get(i)!), `chunk ${i}: the same hash`);
});
