// `signLeaves` has the leaf hash threads read its pieces, through the source's lent descriptor (issue 16:
// each piece was read for the event loop, then handed by it to the one thread, a hop each way per piece; a
// WARM delta download's server signed at ~0.7 GB/s where SHA-256 does 1.74): no piece is read for this
// thread, the descriptor is given back once the signing is over, and on a machine of more than one core the
// pieces are spread over two threads, which take the weak checksums too (none is taken here). A source with
// no descriptor to lend is read and summed here, and a file found shorter by a thread fails the signing as a
// read here does. Real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { truncate } from 'node:fs/promises';
import {
  ChunkHashes,
  LEAF_BYTES,
  deltaSignatureOf,
  type DeltaBlocksMessage,
} from '../../src/protocol/index.js';
import {
  LEAF_HASH_THREADS,
  SIGNING_COUNTERS,
  signLeaves,
  type ChunkSource,
} from '../../src/transfer/index.js';
import { counted, openBytesFile, viewOf } from '../helpers/chunk-source-view.js';

/** Five pieces of 64 leaves (a record each) and a sixth of one short leaf. */
const bytes = randomBytes(5 * 64 * LEAF_BYTES + 777);

/**
 * `source` signed (`onRecord` told of each record as it is sent); every record and every leaf hash kept,
 * checked against the bytes'.
 */
async function signChecked(source: ChunkSource, onRecord = (): void => {}): Promise<void> {
  const records: DeltaBlocksMessage[] = [];
  const hashes = new ChunkHashes(source.size, LEAF_BYTES);
  await signLeaves(source, 1, hashes, (record) => {
    records.push(record);
    onRecord();
    return Promise.resolve();
  });
  const expected = deltaSignatureOf(bytes, LEAF_BYTES);
  assert.deepEqual(
    records.flatMap((r) => [...r.weak]),
    [...expected.weak],
  );
  assert.ok(Buffer.concat(records.map((r) => r.strong)).equals(expected.strong), 'strong hashes');
  assert.equal(hashes.knownCount, hashes.count, 'every leaf hash kept');
}

test('signLeaves: the leaf hash threads read every piece through the lent descriptor, none is read here', async (t) => {
  const { file } = await openBytesFile(t, 'ferry-sign-thread-reads-', bytes);
  const { source, lent, out } = counted(file);
  let readsHere = 0;
  const reading = viewOf(file, {
    lendFd: source.lendFd!,
    returnFd: source.returnFd!,
    readvExactly: (buffers, position) => {
      readsHere++;
      return file.readvExactly(buffers, position);
    },
  });
  const before = { ...SIGNING_COUNTERS };
  await signChecked(reading);
  assert.equal(readsHere, 0, 'no piece read for this thread');
  const leaves = Math.ceil(bytes.length / LEAF_BYTES);
  assert.equal(SIGNING_COUNTERS.threadReadLeaves - before.threadReadLeaves, leaves, 'read on the threads');
  assert.equal(SIGNING_COUNTERS.readLeaves - before.readLeaves, leaves, 'every leaf read once');
  assert.equal(SIGNING_COUNTERS.weakSummedLeaves - before.weakSummedLeaves, 0, 'no weak checksum taken here');
  assert.equal(lent(), 1, 'one descriptor lent for the signing');
  assert.equal(out(), 0, 'given back once it is over');
});

test('signLeaves: on more than one core, the pieces are spread over two leaf hash threads', async (t) => {
  const cores = availableParallelism();
  assert.equal(LEAF_HASH_THREADS.length, cores > 1 ? 2 : 1);
  await Promise.all(LEAF_HASH_THREADS.map((thread) => thread.close()));
  const { file } = await openBytesFile(t, 'ferry-sign-thread-reads-', bytes);
  await signChecked(file);
  assert.deepEqual(
    LEAF_HASH_THREADS.map((thread) => thread.running),
    LEAF_HASH_THREADS.map(() => true),
    'each thread started by a piece of its own',
  );
});

test('signLeaves: a source with no descriptor to lend is read here and signed the same', async (t) => {
  const { file } = await openBytesFile(t, 'ferry-sign-thread-reads-', bytes);
  const before = { ...SIGNING_COUNTERS };
  await signChecked(viewOf(file, { lendFd: undefined, returnFd: undefined }));
  assert.equal(SIGNING_COUNTERS.threadReadLeaves - before.threadReadLeaves, 0);
  const leaves = Math.ceil(bytes.length / LEAF_BYTES);
  assert.equal(
    SIGNING_COUNTERS.weakSummedLeaves - before.weakSummedLeaves,
    leaves,
    'weak checksums taken here',
  );
});

test('signLeaves: a file found shorter by a thread fails the signing as a read here does', async (t) => {
  const { file, path } = await openBytesFile(t, 'ferry-sign-thread-reads-', bytes);
  await truncate(path, 2 * 64 * LEAF_BYTES);
  const hashes = new ChunkHashes(file.size, LEAF_BYTES);
  await assert.rejects(
    signLeaves(file, 1, hashes, () => Promise.resolve()),
    (err: Error & { code?: string }) => err.code === 'SOURCE_CHANGED',
  );
  // Nothing still reads through the descriptor: the file closes.
  await file.close();
});

test('signLeaves: threads stopped while it signs, the pieces they held are read and hashed here', async (t) => {
  const { file } = await openBytesFile(t, 'ferry-sign-thread-reads-', bytes);
  const { source, out } = counted(file);
  let stopping: Promise<unknown> | undefined;
  // After the first record, with the next pieces queued on the threads.
  await signChecked(source, () => {
    stopping ??= Promise.all(LEAF_HASH_THREADS.map((thread) => thread.close()));
  });
  await stopping;
  assert.equal(out(), 0, 'the descriptor given back');
});
