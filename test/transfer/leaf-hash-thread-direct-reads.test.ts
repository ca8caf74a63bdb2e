// The leaf hash thread reads files around the page cache (`direct-reads.ts`, issue 16: a cold buffered read
// cost 0.26-0.99 CPU s per GiB in the kernel here, a direct one ~0.1): the hashes are those of the bytes
// whatever the way, a direct read really happens (the thread counts its bytes, `DIRECT_READ_COUNTERS`),
// sizes off the block read their end short and rounded up into room that is there, a refused direct read
// (memory not aligned) or no direct I/O at all reads the ordinary way, and a file that ended early is
// still found. Real files on the suite's file system (ext4 here).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomFillSync } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import {
  LEAF_BYTES,
  leafHash,
  releaseWeakChecksumBuffer,
  takeWeakChecksumBuffer,
} from '../../src/protocol/index.js';
import {
  DIRECT_READ_COUNTERS,
  LeafHashThread,
  SourceFile,
  type DirectReads,
} from '../../src/transfer/index.js';
import { openBytesFile } from '../helpers/chunk-source-view.js';

const PIECE_BYTES = 64 * LEAF_BYTES;

function threadOf(t: TestContext, directReads: DirectReads): LeafHashThread {
  const thread = new LeafHashThread({ directReads });
  t.after(() => thread.close());
  return thread;
}

/** The leaf hashes of `bytes`, 32 bytes each in order, as the thread gives them. */
function leafHashesOfBytes(bytes: Buffer): Buffer {
  const count = Math.ceil(bytes.length / LEAF_BYTES);
  return Buffer.concat(
    Array.from({ length: count }, (_, i) =>
      leafHash(bytes.subarray(i * LEAF_BYTES, Math.min(bytes.length, (i + 1) * LEAF_BYTES))),
    ),
  );
}

/** A piece's page-aligned shared memory, as a signing reads into (`takeWeakChecksumBuffer`). */
function alignedRoom(t: TestContext): Buffer {
  const room = takeWeakChecksumBuffer(PIECE_BYTES);
  t.after(() => releaseWeakChecksumBuffer(room));
  return room;
}

/** `hashFile` of `file` up to `size`: why it ended short (or undefined), the table, the bytes read direct. */
async function hashWhole(thread: LeafHashThread, file: SourceFile, size = file.size) {
  const table = new SharedArrayBuffer(32 * Math.ceil(size / LEAF_BYTES));
  const state = new Int32Array(new SharedArrayBuffer(8));
  const before = DIRECT_READ_COUNTERS.bytes;
  const fd = file.lendFd();
  try {
    const failed = await thread.hashFile(fd, size, PIECE_BYTES, table, state);
    return { failed, table: Buffer.from(table), direct: DIRECT_READ_COUNTERS.bytes - before, done: state[0] };
  } finally {
    file.returnFd();
  }
}

// 1 byte, a leaf and one, off the block, and more pieces than the thread's ring holds with a short end.
for (const size of [1, LEAF_BYTES + 1, 3 * LEAF_BYTES + 4097, 5 * PIECE_BYTES + 999]) {
  test(`LeafHashThread.hashFile reads a file of ${size} bytes around the page cache, its hashes those of its bytes`, async (t) => {
    const bytes = randomBytes(size);
    const { file } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
    const { failed, table, direct } = await hashWhole(threadOf(t, 'always'), file);
    assert.equal(failed, undefined);
    assert.ok(table.equals(leafHashesOfBytes(bytes)), 'every leaf hash right');
    assert.equal(direct, size, 'every byte read around the page cache');
  });
}

test('LeafHashThread.hashFile with direct reads off reads the ordinary way, the same hashes', async (t) => {
  const bytes = randomBytes(2 * PIECE_BYTES + 4097);
  const { file } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
  const { failed, table, direct } = await hashWhole(threadOf(t, 'never'), file);
  assert.equal(failed, undefined);
  assert.ok(table.equals(leafHashesOfBytes(bytes)));
  assert.equal(direct, 0, 'nothing read around the page cache');
});

// The probe asks the kernel what a read fetched from the disk (/proc/thread-self/io); without it, it times.
const fetchCounted = existsSync('/proc/thread-self/io');

test('LeafHashThread.hashFile, direct unless cached, reads a file the page cache holds the ordinary way', async (t) => {
  const bytes = randomBytes(3 * PIECE_BYTES + 5);
  // Just written the ordinary way: held by the page cache.
  const { file } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
  const thread = threadOf(t, 'uncached');
  for (let run = 0; run < 2; run++) {
    const { failed, table, direct } = await hashWhole(thread, file);
    assert.equal(failed, undefined);
    assert.ok(table.equals(leafHashesOfBytes(bytes)), `run ${run}`);
    if (fetchCounted) assert.equal(direct, 0, `run ${run}: nothing read around the page cache`);
  }
});

test('LeafHashThread.hashFile, direct unless cached, reads a file the page cache does not hold around it', async (t) => {
  // Written around the page cache (direct I/O from aligned memory), so none of it is cached.
  const piece = randomFillSync(alignedRoom(t));
  const bytes = Buffer.concat([piece, piece]);
  const { path } = await openBytesFile(t, 'ferry-direct-reads-', Buffer.alloc(0));
  const writer = await open(path, constants.O_WRONLY | constants.O_DIRECT);
  try {
    await writer.write(piece, 0, piece.length, 0);
    await writer.write(piece, 0, piece.length, piece.length);
  } finally {
    await writer.close();
  }
  const cold = await SourceFile.open(path, { noFollow: true });
  t.after(() => cold.close());
  const { failed, table, direct } = await hashWhole(threadOf(t, 'uncached'), cold);
  assert.equal(failed, undefined);
  assert.ok(table.equals(leafHashesOfBytes(bytes)));
  if (fetchCounted) assert.equal(direct, bytes.length - 2 ** 20, 'all but the first MiB (the probe) direct');
});

for (const directReads of ['always', 'never'] as const) {
  test(`LeafHashThread.hashFile (${directReads}) of a file that shrank finds it ended early`, async (t) => {
    const bytes = randomBytes(2 * PIECE_BYTES + 3 * LEAF_BYTES + 999);
    const { file, path } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
    // Shrunk off the block, inside the last piece, after it was opened (its size as opened still asked).
    const kept = 2 * PIECE_BYTES + LEAF_BYTES + 1234;
    await truncate(path, kept);
    const { failed, table, done } = await hashWhole(threadOf(t, directReads), file);
    assert.equal(failed, 'the file ended early');
    assert.equal(done, 2 * 64, 'the whole pieces before it hashed');
    assert.ok(table.subarray(0, 32 * 128).equals(leafHashesOfBytes(bytes.subarray(0, 2 * PIECE_BYTES))));
  });
}

test('LeafHashThread.readLeaves reads the end of a file off the block into the room it is lent, around the page cache', async (t) => {
  const bytes = randomBytes(PIECE_BYTES + 2 * LEAF_BYTES + 777);
  const { file } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
  const thread = threadOf(t, 'always');
  const room = alignedRoom(t);
  const length = bytes.length - PIECE_BYTES;
  const fd = file.lendFd();
  try {
    let before = DIRECT_READ_COUNTERS.bytes;
    const hashes = (await thread.readLeaves(fd, PIECE_BYTES, room.subarray(0, length), room.length))?.hashes;
    assert.ok(hashes?.equals(leafHashesOfBytes(bytes.subarray(PIECE_BYTES))), 'its hashes');
    assert.equal(DIRECT_READ_COUNTERS.bytes - before, length, 'read around the page cache');
    // No room to round up into: the ordinary way, the same hashes.
    room.fill(0);
    before = DIRECT_READ_COUNTERS.bytes;
    const again = await thread.readLeaves(fd, PIECE_BYTES, room.subarray(0, length));
    assert.ok(again?.hashes.equals(hashes!));
    assert.equal(
      DIRECT_READ_COUNTERS.bytes - before,
      4096 * Math.floor(length / 4096),
      'its whole blocks direct',
    );
  } finally {
    file.returnFd();
  }
});

test('LeafHashThread.readLeaves into memory off the page: the direct read is refused (EINVAL), the ordinary one reads', async (t) => {
  const bytes = randomBytes(3 * LEAF_BYTES);
  const { file } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
  const thread = threadOf(t, 'always');
  const into = Buffer.from(new SharedArrayBuffer(bytes.length + 1)).subarray(1);
  const before = DIRECT_READ_COUNTERS.bytes;
  const fd = file.lendFd();
  try {
    const hashes = (await thread.readLeaves(fd, 0, into))?.hashes;
    assert.ok(hashes?.equals(leafHashesOfBytes(bytes)), 'its hashes');
    assert.ok(into.equals(bytes), 'its bytes');
  } finally {
    file.returnFd();
  }
  assert.equal(DIRECT_READ_COUNTERS.bytes - before, 0, 'nothing read around the page cache');
});

test('LeafHashThread.readLeaves of a piece past the end of a file that shrank gives nothing (the caller reads it)', async (t) => {
  const bytes = randomBytes(PIECE_BYTES + 4096);
  const { file, path } = await openBytesFile(t, 'ferry-direct-reads-', bytes);
  await truncate(path, PIECE_BYTES + 100);
  const thread = threadOf(t, 'always');
  const room = alignedRoom(t);
  const fd = file.lendFd();
  try {
    assert.equal(await thread.readLeaves(fd, PIECE_BYTES, room.subarray(0, 4096), room.length), undefined);
  } finally {
    file.returnFd();
  }
});
