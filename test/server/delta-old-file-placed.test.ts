// A delta upload's server writes the old file's leaves into the new file where they lie while it signs them,
// when the new file has the old one's size (issue 16: the old file read once, not twice): a PUT_COPY in place
// over those leaves then writes nothing and takes the signing's leaf hashes. These tests drive the real
// DeltaOldFile over a real old file on disk and a real PartialTransfer (in a memory store, whose placed bytes
// are read back); the session is reduced to what the signing uses (its record sender, the hashing budget).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DeltaOldFile } from '../../src/server/delta-old-file.js';
import { ChunkHashes, LEAF_BYTES, chunkHashOf, type DeltaBlocksMessage } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';
import { openOldFile } from '../helpers/delta-old-file-rig.js';

/** 16 MiB and more: the signature is in leaves (PROTOCOL.md §5.15.2); records of 64 leaves while signing. */
const SIZE = 16 * 1024 * 1024 + 4321;
const CHUNK = 4 * LEAF_BYTES;
const MTIME_S = 1_700_000_000;

interface Rig {
  old: Buffer;
  oldPath: string;
  file: DeltaOldFile;
  store: MemoryPartialStore<string>;
  partial: PartialTransfer<string>;
}

/**
 * Opens the old file as a delta upload's server does and signs it onto a fresh partial of the same size;
 * `onRecord` runs (synchronously) as each DELTA_BLOCKS record is sent, while the signing goes on.
 */
async function signed(
  t: TestContext,
  onRecord?: (record: DeltaBlocksMessage, path: string) => void,
): Promise<Rig> {
  const { old, oldPath, io, file } = await openOldFile(t, 'ferry-delta-placed-', SIZE, (record, path) => {
    onRecord?.(record, path);
    return Promise.resolve();
  });
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
    durableBatchBytes: CHUNK,
  });
  t.after(() => partial.close());
  const signing = file.startSignature(io, 1, partial, SIZE);
  assert.ok(signing.placing, 'an offer of the old size places while signing');
  await signing.done;
  return { old, oldPath, file, store, partial };
}

/** Copies chunk `index` in place (one PUT_COPY) and closes it with the hash of `expected`'s chunk. */
async function copyChunk(r: Rig, index: number, expected: Buffer): Promise<void> {
  const offset = index * CHUNK;
  const length = Math.min(CHUNK, SIZE - offset);
  await r.file.copyInto(r.partial, { type: 'PUT_COPY', ref: 1, offset, oldOffset: offset, length }, r);
  r.partial.completeChunk(index, chunkHashOf(expected.subarray(offset, offset + length)), r);
}

/** Copies every chunk from `from` on in place, finishes the partial, and returns the bytes placed. */
async function copyRestAndFinish(r: Rig, from: number, expected: Buffer): Promise<Buffer> {
  const hashes = new ChunkHashes(SIZE, CHUNK);
  for (let index = 0; index * CHUNK < SIZE; index++) {
    if (index >= from) await copyChunk(r, index, expected);
    hashes.set(index, chunkHashOf(expected.subarray(index * CHUNK, Math.min(SIZE, (index + 1) * CHUNK))));
  }
  await r.partial.finish(hashes.digest(), 'target', { mode: 0o644, overwrite: true });
  return r.store.placed.get('target')!.bytes;
}

test('a copy in place of leaves written while signing reads nothing: the chunks verify and the file is the one signed, whatever the old file becomes after', async (t) => {
  const r = await signed(t);
  // Rewritten after the signing: a copy that read the old file now would build a chunk that fails.
  rewriteKeepingSizeAndMtime(r.oldPath, 2 * LEAF_BYTES, MTIME_S);
  const placed = await copyRestAndFinish(r, 0, r.old);
  assert.ok(placed.equals(r.old), 'the bytes placed are the old file as signed, byte-exact');
});

test('the old file rewritten while it is signed: no leaf counts as placed, the copies read the file as it is and the changed chunk fails', async (t) => {
  let rewritten = false;
  const r = await signed(t, (record, path) => {
    // After the first record (leaves 0-63 read, hashed and written in place), inside what it covered.
    if (record.firstBlock === 0) {
      rewriteKeepingSizeAndMtime(path, 2 * LEAF_BYTES, MTIME_S);
      rewritten = true;
    }
  });
  assert.ok(rewritten, 'the old file was rewritten during the signing');
  // The leaves written while signing are the bytes signed; trusted after the identity moved, this chunk
  // would verify from them. Read again, it holds the rewritten bytes: CHUNK_MISMATCH.
  await assert.rejects(copyChunk(r, 0, r.old), { code: 'CHUNK_MISMATCH' });
});

test('data written over a leaf placed while signing: a later copy in place of it reads the old file again', async (t) => {
  const r = await signed(t);
  // First attempt at chunk 0: its first leaf as data (not the old bytes), the rest copied; the hash named is
  // the old chunk's, so it fails, and the junk stays in the partial until the chunk is sent again.
  const junk = randomBytes(LEAF_BYTES);
  await r.file.arrive(0, junk.length);
  await r.partial.writeData(0, junk, r);
  await r.file.copyInto(
    r.partial,
    { type: 'PUT_COPY', ref: 1, offset: LEAF_BYTES, oldOffset: LEAF_BYTES, length: CHUNK - LEAF_BYTES },
    r,
  );
  assert.throws(() => r.partial.completeChunk(0, chunkHashOf(r.old.subarray(0, CHUNK)), r), {
    code: 'CHUNK_MISMATCH',
  });
  // Sent again as one copy in place: the overwritten leaf is read from the old file and written, so the
  // verified chunk is on disk as verified (taken as placed, the junk would stay under a verified hash).
  const placed = await copyRestAndFinish(r, 0, r.old);
  assert.ok(placed.equals(r.old), 'the bytes placed are the old file, byte-exact, the junk written over');
});
