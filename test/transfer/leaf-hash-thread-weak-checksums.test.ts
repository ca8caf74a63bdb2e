// The leaf hash thread takes the weak checksums of the pieces it reads for a signing (issue 16: the signing's
// event loop took them after, on the critical path of a cold delta): with the protocol's own compiled module
// over the same shared memory, so they equal `weakChecksum`'s, for random bytes and piece sizes, a short last
// leaf included, and in a slab the memory gained after the thread started; a piece read into memory that is
// not the module's has its leaves hashed and its weak checksums left to the caller. Real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  LEAF_BYTES,
  leafHash,
  releaseWeakChecksumBuffer,
  takeWeakChecksumBuffer,
  weakChecksum,
} from '../../src/protocol/index.js';
import { LeafHashThread, type ReadLeaves } from '../../src/transfer/index.js';
import { openBytesFile } from '../helpers/chunk-source-view.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const SEED = 16;
const random = new SeededRandom(SEED);
const bytes = random.bytes(6 * LEAF_BYTES + 777);
const PIECE_BYTES = 64 * LEAF_BYTES;

/** A thread of its own and the file open: the returned function has it read a piece of it into `into`. */
async function readerOf(
  t: TestContext,
): Promise<(into: Buffer, position: number, length: number) => Promise<ReadLeaves>> {
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  const { file } = await openBytesFile(t, 'ferry-weak-sums-', bytes);
  return async (into, position, length) => {
    try {
      const answer = await thread.readLeaves(file.lendFd(), position, into.subarray(0, length), into.length);
      assert.ok(answer, `answered [${position}, +${length})`);
      return answer;
    } finally {
      file.returnFd();
    }
  };
}

/** The leaves of the piece `[position, +length)` of the file, the last short where the piece ends so. */
function leavesOf(position: number, length: number): Buffer[] {
  const piece = bytes.subarray(position, position + length);
  return Array.from({ length: Math.ceil(length / LEAF_BYTES) }, (_, i) =>
    piece.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES),
  );
}

function taken(t: TestContext): Buffer {
  const buffer = takeWeakChecksumBuffer(PIECE_BYTES);
  t.after(() => releaseWeakChecksumBuffer(buffer));
  return buffer;
}

test(`LeafHashThread.readLeaves takes each leaf's weak checksum as weakChecksum does, random pieces (seed ${SEED})`, async (t) => {
  const readPiece = await readerOf(t);
  const checkPiece = async (into: Buffer, position: number, length: number): Promise<void> => {
    const { hashes, weak } = await readPiece(into, position, length);
    const leaves = leavesOf(position, length);
    assert.deepEqual(
      [...(weak ?? [])],
      leaves.map((leaf) => weakChecksum(leaf, 0, leaf.length)),
      `weak checksums of [${position}, +${length})`,
    );
    assert.ok(hashes.equals(Buffer.concat(leaves.map(leafHash))), `hashes of [${position}, +${length})`);
  };
  const first = taken(t);
  await checkPiece(first, 0, bytes.length);
  // A slab the memory gains once the thread has started (shared memory grows for every thread).
  const second = taken(t);
  assert.ok(second.byteOffset > first.byteOffset, 'a slab added after');
  const lengths = [1, 15, 16, 17, LEAF_BYTES - 1, LEAF_BYTES, LEAF_BYTES + 1, 2 * LEAF_BYTES + 31];
  for (const [i, length] of lengths.entries()) await checkPiece(i % 2 === 0 ? second : first, 777, length);
  for (let i = 0; i < 12; i++) {
    const position = random.int(0, bytes.length - 1);
    await checkPiece(i % 2 === 0 ? second : first, position, random.int(1, bytes.length - position));
  }
});

test('LeafHashThread.readLeaves into memory not the weak checksum module: hashed, its weak checksums left to the caller', async (t) => {
  const readPiece = await readerOf(t);
  const plain = Buffer.from(new SharedArrayBuffer(PIECE_BYTES));
  const { hashes, weak } = await readPiece(plain, LEAF_BYTES, 2 * LEAF_BYTES + 5);
  assert.equal(weak, undefined);
  assert.ok(hashes.equals(Buffer.concat(leavesOf(LEAF_BYTES, 2 * LEAF_BYTES + 5).map(leafHash))));
});
