// LeafHashesAhead (a delta upload's new file hashed while the server signs its old one) has the leaf hash
// thread read the file itself through the source's lent descriptor (issue 16: read and hashed through the
// client's event loop, the thread sat idle whenever the loop was busy): every leaf's hash, the descriptor
// given back once it is over, a stop honoured before the next read; a source with no descriptor to lend
// (an object store's) is still hashed, through the event loop, as is a file too small to start the thread
// for. Real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LEAF_BYTES, leafHash } from '../../src/protocol/index.js';
import { LEAF_HASH_THREAD, LeafHashesAhead } from '../../src/transfer/index.js';
import { counted, openBytesFile, viewOf } from '../helpers/chunk-source-view.js';

/** Two pieces of 64 leaves and a short last leaf. */
const bytes = randomBytes(128 * LEAF_BYTES + 999);

function assertEveryLeaf(ahead: LeafHashesAhead): void {
  assert.equal(ahead.hashes.knownCount, ahead.hashes.count, 'every leaf hashed');
  for (let leaf = 0; leaf < ahead.hashes.count; leaf++) {
    const at = leaf * LEAF_BYTES;
    const want = leafHash(bytes.subarray(at, Math.min(bytes.length, at + LEAF_BYTES)));
    assert.ok(ahead.hashes.get(leaf)!.equals(want), `leaf ${leaf}`);
  }
}

test('LeafHashesAhead: a small file is hashed through the event loop, the thread not started for it', async (t) => {
  const small = bytes.subarray(0, 3 * LEAF_BYTES + 5);
  const { source, lent } = counted((await openBytesFile(t, 'ferry-ahead-thread-', small)).file);
  assert.equal(LEAF_HASH_THREAD.running, false, 'not started before');
  const ahead = LeafHashesAhead.start(source);
  await ahead.settled();
  assert.equal(ahead.hashes.knownCount, 4);
  for (let leaf = 0; leaf < 4; leaf++) {
    const at = leaf * LEAF_BYTES;
    assert.ok(
      ahead.hashes.get(leaf)!.equals(leafHash(small.subarray(at, Math.min(small.length, at + LEAF_BYTES)))),
    );
  }
  assert.equal(lent(), 0, 'no descriptor lent');
  assert.equal(LEAF_HASH_THREAD.running, false, 'a thread costs more to start than 256 KiB to hash');
});

test('LeafHashesAhead: the leaf hash thread reads the file through its lent descriptor, every leaf hashed', async (t) => {
  const { source, lent, out } = counted((await openBytesFile(t, 'ferry-ahead-thread-', bytes)).file);
  const ahead = LeafHashesAhead.start(source);
  await ahead.settled();
  assertEveryLeaf(ahead);
  assert.equal(lent(), 1, 'read through the lent descriptor');
  assert.equal(out(), 0, 'given back once over');
});

test('LeafHashesAhead: stopped at once, it gives the descriptor back and the file closes', async (t) => {
  const file = (await openBytesFile(t, 'ferry-ahead-thread-', bytes)).file;
  const { source, out } = counted(file);
  const ahead = LeafHashesAhead.start(source);
  await ahead.stop();
  assert.equal(out(), 0, 'given back');
  await file.close();
});

test('LeafHashesAhead: a source with no descriptor to lend is hashed through the event loop', async (t) => {
  const source = viewOf((await openBytesFile(t, 'ferry-ahead-thread-', bytes)).file, {
    lendFd: undefined,
    returnFd: undefined,
  });
  const ahead = LeafHashesAhead.start(source);
  await ahead.settled();
  assertEveryLeaf(ahead);
});
