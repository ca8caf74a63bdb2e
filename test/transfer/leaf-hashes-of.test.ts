// `leafHashesOf`, the one way a delta's signing pieces and a delta upload's new file hashed ahead ask the
// leaf hash thread for a buffer's leaf hashes: every leaf's hash in order, whole leaves on the thread (from
// shared memory), a short last leaf here, and every leaf here when the memory is not shared or too small to
// start the thread for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LEAF_BYTES, leafHash } from '../../src/protocol/index.js';
import { LEAF_HASH_THREAD, LeafHashThread, THREAD_START_MIN_BYTES } from '../../src/transfer/index.js';
import { leafHashesOf } from '../../src/transfer/leaf-hashes-of.js';

function expected(bytes: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += LEAF_BYTES)
    out.push(leafHash(bytes.subarray(at, Math.min(bytes.length, at + LEAF_BYTES))));
  return Buffer.concat(out);
}

test('leafHashesOf gives every leaf hash, from shared memory and from plain memory alike', async () => {
  for (const size of [3 * LEAF_BYTES + 100, 2 * LEAF_BYTES, 100, 0]) {
    const bytes = randomBytes(size);
    const shared = Buffer.from(new SharedArrayBuffer(size + 64)).subarray(64);
    bytes.copy(shared);
    assert.ok((await leafHashesOf(shared)).equals(expected(bytes)), `shared, ${size} bytes`);
    assert.ok((await leafHashesOf(bytes)).equals(expected(bytes)), `plain, ${size} bytes`);
  }
});

test('a thread not started is not started for a few leaves (worthFor): they are hashed here', async () => {
  const thread = new LeafHashThread();
  const bytes = Buffer.from(new SharedArrayBuffer(2 * LEAF_BYTES + 7));
  randomBytes(bytes.length).copy(bytes);
  assert.equal(thread.worthFor(THREAD_START_MIN_BYTES - 1), false);
  assert.equal(thread.worthFor(THREAD_START_MIN_BYTES), true);
  assert.equal(await thread.wholeLeaves(bytes), undefined, 'the caller hashes them');
  assert.equal(thread.running, false, 'not started');
  thread.warm();
  assert.equal(thread.worthFor(1), true, 'once running, any job is worth it');
  assert.ok((await thread.wholeLeaves(bytes))?.equals(expected(bytes.subarray(0, 2 * LEAF_BYTES))));
  await thread.close();
});

test('the leaf hash thread hashes only whole leaves of shared memory, and says when it cannot', async () => {
  LEAF_HASH_THREAD.warm();
  const bytes = Buffer.from(new SharedArrayBuffer(2 * LEAF_BYTES + 7));
  randomBytes(bytes.length).copy(bytes);
  const whole = await LEAF_HASH_THREAD.wholeLeaves(bytes);
  assert.ok(whole?.equals(expected(bytes.subarray(0, 2 * LEAF_BYTES))));
  assert.equal(await LEAF_HASH_THREAD.wholeLeaves(bytes.subarray(0, LEAF_BYTES - 1)), undefined);
  assert.equal(await LEAF_HASH_THREAD.wholeLeaves(Buffer.from(bytes)), undefined, 'not shared memory');
});
