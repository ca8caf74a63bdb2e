// The leaf hash thread's `readLeavesWritingThrough` (issue 16): a piece of a signing read through a lent
// descriptor and hashed, and its first bytes written at the same offset through another descriptor while
// they are hashed, from the very bytes read; the answer waits for the write and says whether it landed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LEAF_BYTES, leafHash } from '../../src/protocol/index.js';
import { LeafHashThread } from '../../src/transfer/index.js';
import { openBytesFile } from '../helpers/chunk-source-view.js';

/** Two pieces' worth: 3 whole leaves and a short one from `POSITION`. */
const bytes = randomBytes(8 * LEAF_BYTES);
const POSITION = 4 * LEAF_BYTES;
const LENGTH = 3 * LEAF_BYTES + 100;
const want = bytes.subarray(POSITION, POSITION + LENGTH);

/**
 * Reads the piece at POSITION on a thread of its own, writing its first `length` bytes through into `new.bin`
 * beside the file (opened read-only when not `writable`: the write fails).
 */
async function readWritingThrough(t: TestContext, length: number, writable: boolean) {
  const { file, path } = await openBytesFile(t, 'ferry-read-write-through-', bytes);
  const intoPath = join(path, '..', 'new.bin');
  await (await open(intoPath, 'w')).close();
  const into = await open(intoPath, writable ? 'r+' : 'r');
  t.after(() => into.close());
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  const piece = Buffer.from(new SharedArrayBuffer(LENGTH));
  const answer = await thread.readLeavesWritingThrough(file.lendFd(), POSITION, piece, {
    fd: into.fd,
    length,
  });
  file.returnFd();
  assert.ok(answer, 'answered');
  assert.ok(piece.equals(want), 'read');
  for (let leaf = 0; leaf < 4; leaf++)
    assert.ok(
      answer.hashes
        .subarray(32 * leaf, 32 * leaf + 32)
        .equals(leafHash(want.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES))),
      `leaf ${leaf} hashed`,
    );
  return { written: answer.written, into: await readFile(intoPath) };
}

test('LeafHashThread.readLeavesWritingThrough writes the bytes it read where they lie, hashes them, and says they landed', async (t) => {
  const { written, into } = await readWritingThrough(t, 3 * LEAF_BYTES, true);
  assert.equal(written, true, 'landed');
  assert.equal(into.length, POSITION + 3 * LEAF_BYTES, 'the whole leaves asked for, no more');
  assert.ok(into.subarray(POSITION).equals(want.subarray(0, 3 * LEAF_BYTES)), 'where they lie');
});

test('LeafHashThread.readLeavesWritingThrough: a write that fails is said, the piece still read and hashed', async (t) => {
  const { written, into } = await readWritingThrough(t, LEAF_BYTES, false);
  assert.equal(written, false);
  assert.equal(into.length, 0, 'nothing written');
});
