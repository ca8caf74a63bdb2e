// A cold same-size delta upload's server writes its old file's leaves into the new one from the leaf hash
// threads that read and hash them (issue 16: one read of the old file for the signature and the placing, and
// no placing write from the session's event loop, where each one held its piece's buffer, so the signing's
// next read, for its whole length). The real DeltaOldFile over a real old file and a real PartialTransfer in
// a file store, whose direct descriptor the threads borrow; the session is reduced to what the signing uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LEAF_BYTES, chunkHashOf } from '../../src/protocol/index.js';
import { FilePartialStore, PartialTransfer, SIGNING_COUNTERS } from '../../src/transfer/index.js';
import { openOldFile } from '../helpers/delta-old-file-rig.js';

/** 16 MiB and more: the signature is in leaves (PROTOCOL.md §5.15.2), read in pieces of 64 leaves. */
const SIZE = 16 * 1024 * 1024 + 4321;
const CHUNK = 1024 * 1024;
const WHOLE_LEAVES = Math.floor(SIZE / LEAF_BYTES);

test('a cold same-size delta: the leaf hash threads place every whole old leaf as they read it, none is placed from the event loop, and copies in place take them all', async (t) => {
  const { dir, old, io, file } = await openOldFile(t, 'ferry-delta-write-through-', SIZE);
  const dataPath = join(dir, 'new.part');
  const store = new FilePartialStore<string>({
    pathsOf: () => ({ dataPath, logPath: join(dir, 'new.state') }),
  });
  const partial = await PartialTransfer.open(store, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
  });
  t.after(() => partial.close());
  let placedHere = 0;
  const placeUnverified = partial.placeUnverified.bind(partial);
  partial.placeUnverified = (offset, pieces, options) => {
    placedHere += pieces.length;
    return placeUnverified(offset, pieces, options);
  };
  let taken = 0;
  const accept = partial.acceptPlacedLeaves.bind(partial);
  partial.acceptPlacedLeaves = (offset, hashes, stream) => {
    taken += hashes.length;
    accept(offset, hashes, stream);
  };
  const read = SIGNING_COUNTERS.readLeaves;
  const signing = file.startSignature(io, 1, partial, SIZE);
  assert.ok(signing.placing, 'an offer of the old size places while signing');
  await signing.done;
  assert.equal(SIGNING_COUNTERS.readLeaves - read, WHOLE_LEAVES + 1, 'every leaf read once');
  assert.equal(placedHere, 0, 'no leaf placed from the event loop');
  for (let offset = 0; offset < SIZE; offset += CHUNK) {
    const length = Math.min(CHUNK, SIZE - offset);
    await file.copyInto(partial, { type: 'PUT_COPY', ref: 1, offset, oldOffset: offset, length }, t);
    partial.completeChunk(offset / CHUNK, chunkHashOf(old.subarray(offset, offset + length)), t);
  }
  assert.equal(taken, WHOLE_LEAVES, 'every whole leaf taken as placed (only the short last one copied)');
  await partial.flushWrites();
  assert.ok((await readFile(dataPath)).equals(old), 'the new file holds the old one, byte-exact');
});
