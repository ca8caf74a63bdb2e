// The read buffers of a delta upload's copies (issue 16): no larger than the old file in whole leaves, at most
// 1 MiB. A tree's changed files of a few KiB each made four 1 MiB buffers of shared memory per file, zeroed,
// ~1 ms of the server's CPU a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEAF_BYTES } from '../../src/protocol/index.js';
import type { PartialTransfer } from '../../src/transfer/index.js';
import { CopyPieces } from '../../src/server/copy-pieces.js';

const MIB = 1024 * 1024;

test('CopyPieces sizes its buffers to the old file, in whole leaves, up to 1 MiB', async () => {
  assert.equal(new CopyPieces(1).pieceBytes, LEAF_BYTES);
  assert.equal(new CopyPieces(30 * 1024).pieceBytes, LEAF_BYTES);
  assert.equal(new CopyPieces(LEAF_BYTES + 1).pieceBytes, 2 * LEAF_BYTES);
  assert.equal(new CopyPieces(MIB).pieceBytes, MIB);
  assert.equal(new CopyPieces(5 * MIB).pieceBytes, MIB);
  // The buffers themselves: shared memory (the leaf hash thread reads them in place) of that size.
  const pieces = new CopyPieces(30 * 1024);
  const partial = {} as PartialTransfer<unknown>; // not touched until a buffer is used again
  const piece = await pieces.next(partial);
  assert.equal(piece.length, LEAF_BYTES);
  assert.ok(piece.buffer instanceof SharedArrayBuffer);
});
