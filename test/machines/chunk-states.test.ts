// ChunkStates: which received bytes a transfer trusts (PROTOCOL.md §5.5, §5.13), tested with bytes alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkStates } from '../../src/machines/index.js';
import { HASH_BYTES, chunkHashOf, fileDigest } from '../../src/protocol/index.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const SIZE = 3 * CHUNK_BYTES + 10;
const content = randomBytes(SIZE);
const chunk = (i: number): Buffer => content.subarray(i * CHUNK_BYTES, Math.min(SIZE, (i + 1) * CHUNK_BYTES));
const hashOf = (bytes: Uint8Array): Buffer => chunkHashOf(bytes);
const A = 'stream A';
const B = 'stream B';

/** Sends chunk `i` as two pieces from `stream` and closes it with `hash`. */
function send(
  states: ChunkStates,
  i: number,
  stream: unknown,
  bytes = chunk(i),
  hash = hashOf(bytes),
): Buffer {
  const half = bytes.length >> 1;
  states.accept(i * CHUNK_BYTES, bytes.subarray(0, half), stream);
  states.accept(i * CHUNK_BYTES + half, bytes.subarray(half), stream);
  return states.complete(i, hash, stream);
}

const malformed = (pattern: RegExp) => ({ code: 'MESSAGE_MALFORMED', message: pattern });

test('ChunkStates moves a chunk unverified -> open -> verified and keeps the hash of exactly the bytes accepted', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES);
  assert.equal(states.count, 4);
  assert.equal(states.stateOf(1), 'unverified');
  states.accept(CHUNK_BYTES, chunk(1).subarray(0, 100), A);
  assert.equal(states.stateOf(1), 'open');
  assert.equal(states.hashOf(1), undefined, 'an open chunk has no hash');
  states.accept(CHUNK_BYTES + 100, chunk(1).subarray(100), A);
  const hash = states.complete(1, hashOf(chunk(1)), A);
  assert.equal(states.stateOf(1), 'verified');
  assert.ok(hash.equals(hashOf(chunk(1))));
  assert.ok(states.hashOf(1)!.equals(hash));
  assert.equal(states.verifiedCount, 1);
});

test('ChunkStates refuses any byte for a verified chunk, from any stream, and the verified hash stays', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES);
  send(states, 0, A);
  for (const stream of [A, B]) {
    assert.throws(
      () => states.accept(0, Buffer.from('other content'), stream),
      malformed(/chunk 0 is already verified/),
    );
    assert.throws(() => states.accept(5, Buffer.from('x'), stream), malformed(/chunk 0 is already verified/));
  }
  assert.equal(states.stateOf(0), 'verified');
  assert.ok(states.hashOf(0)!.equals(hashOf(chunk(0))));
});

test('ChunkStates refuses bytes for a chunk verified before (a resumed partial) as well', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES, { verified: [{ index: 2, hash: hashOf(chunk(2)) }] });
  assert.equal(states.stateOf(2), 'verified');
  assert.throws(() => states.accept(2 * CHUNK_BYTES, chunk(2), A), malformed(/chunk 2 is already verified/));
});

test('ChunkStates leaves a chunk whose hash does not match unverified: no hash, no digest, until it is sent again whole and matches', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES);
  for (const i of [0, 2, 3]) send(states, i, A);
  const forged = Buffer.alloc(chunk(1).length, 0x41);
  assert.throws(() => send(states, 1, B, forged, hashOf(chunk(1))), { code: 'CHUNK_MISMATCH' });
  assert.equal(states.stateOf(1), 'unverified');
  assert.equal(states.hashOf(1), undefined);
  assert.throws(() => states.fileDigest(), malformed(/1 of 4 chunks missing at end/));
  // The next attempt starts at the chunk's first byte, and is marked as a rewrite of bytes written before.
  assert.throws(() => states.accept(CHUNK_BYTES + 10, chunk(1), A), malformed(/does not start a chunk/));
  assert.equal(states.accept(CHUNK_BYTES, chunk(1).subarray(0, 10), A), true);
  assert.equal(states.accept(CHUNK_BYTES + 10, chunk(1).subarray(10), A), false);
  states.complete(1, hashOf(chunk(1)), A);
  const hashes = [0, 1, 2, 3].map((i) => hashOf(chunk(i)));
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => states.hashOf(i)?.toString('hex')),
    hashes.map((h) => h.toString('hex')),
  );
  assert.ok(states.fileDigest().equals(fileDigest(SIZE, CHUNK_BYTES, hashes)));
});

test('ChunkStates keeps a chunk on the stream that opened it: another stream can neither add to it nor close it', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES);
  states.accept(0, chunk(0).subarray(0, 100), A);
  assert.throws(
    () => states.accept(100, chunk(0).subarray(100), B),
    malformed(/chunk 0 is open on another stream/),
  );
  assert.throws(() => states.accept(0, chunk(0), B), malformed(/chunk 0 is open on another stream/));
  states.accept(100, chunk(0).subarray(100), A);
  assert.throws(() => states.complete(0, hashOf(chunk(0)), B), malformed(/chunk 0 is not complete/));
  states.complete(0, hashOf(chunk(0)), A);
});

test('ChunkStates returns the chunks a stream left open to unverified when it is abandoned; the file cannot end while one is open', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES);
  for (const i of [0, 2, 3]) send(states, i, A);
  states.accept(CHUNK_BYTES, chunk(1).subarray(0, 100), B);
  assert.throws(() => states.fileDigest(), malformed(/chunk 1 was not completed/));
  states.abandon(B);
  assert.equal(states.stateOf(1), 'unverified');
  assert.equal(send(states, 1, A).length, HASH_BYTES);
  assert.equal(states.fileDigest().length, HASH_BYTES);
});

test('ChunkStates enforces PROTOCOL.md §5.5.1 order and the open-chunk cap, changing nothing when it refuses', () => {
  const states = new ChunkStates(SIZE, CHUNK_BYTES, { maxOpen: 2 });
  assert.throws(() => states.accept(SIZE, Buffer.from('x'), A), malformed(/outside the file/));
  assert.throws(() => states.accept(-1, Buffer.from('x'), A), malformed(/outside the file/));
  states.accept(0, chunk(0).subarray(0, 10), A);
  assert.throws(() => states.accept(20, Buffer.from('x'), A), malformed(/expected offset 10, got 20/));
  assert.throws(
    () => states.accept(10, Buffer.alloc(CHUNK_BYTES), A),
    malformed(/crosses the chunk end 65536/),
  );
  assert.throws(() => states.complete(0, hashOf(chunk(0)), A), malformed(/chunk 0 is not complete/));
  states.accept(CHUNK_BYTES, chunk(1).subarray(0, 1), A);
  assert.throws(() => states.accept(2 * CHUNK_BYTES, chunk(2), A), malformed(/more than 2 chunks open/));
  assert.equal(states.stateOf(2), 'unverified');
  // The refused pieces left the open chunk where it was.
  states.accept(10, chunk(0).subarray(10), A);
  states.complete(0, hashOf(chunk(0)), A);
});

test('ChunkStates verifies a whole chunk given as its leaf hashes (verifyWhole) as accept and complete of its bytes would, refusing what they refuse', () => {
  // Chunks of four leaves; the last chunk has two, the second of 10 bytes.
  const size = 6 * CHUNK_BYTES + 10;
  const bytes = randomBytes(size);
  const leaf = (i: number): Buffer =>
    hashOf(bytes.subarray(i * CHUNK_BYTES, Math.min(size, (i + 1) * CHUNK_BYTES)));
  const big = 4 * CHUNK_BYTES;
  const received = new ChunkStates(size, big, { keepLeafHashes: true });
  received.accept(0, bytes.subarray(0, big), A);
  received.complete(0, hashOf(bytes.subarray(0, big)), A);
  received.accept(big, bytes.subarray(big), A);
  received.complete(1, hashOf(bytes.subarray(big)), A);

  const placed = new ChunkStates(size, big, { keepLeafHashes: true });
  const leaves = [0, 1, 2, 3, 4, 5, 6].map(leaf);
  assert.throws(
    () => placed.verifyWhole(0, leaves.slice(0, 3), received.hashOf(0)!),
    malformed(/has 4 leaves, not 3/),
  );
  assert.throws(
    () => placed.verifyWhole(2, leaves.slice(4), received.hashOf(1)!),
    malformed(/outside the file/),
  );
  assert.throws(() => placed.verifyWhole(1, leaves.slice(4), randomBytes(HASH_BYTES)), {
    code: 'CHUNK_MISMATCH',
  });
  assert.equal(placed.stateOf(1), 'unverified', 'a mismatch leaves the chunk unverified');
  assert.ok(placed.verifyWhole(0, leaves.slice(0, 4), received.hashOf(0)!).equals(received.hashOf(0)!));
  assert.ok(placed.verifyWhole(1, leaves.slice(4), received.hashOf(1)!).equals(received.hashOf(1)!));
  assert.throws(
    () => placed.verifyWhole(1, leaves.slice(4), received.hashOf(1)!),
    malformed(/already verified/),
  );
  assert.ok(placed.fileDigest().equals(received.fileDigest()), 'the same file digest as from the bytes');
  assert.ok(placed.leafHashes()!.get(6)!.equals(leaves[6]!), 'the leaf hashes kept');

  const opened = new ChunkStates(size, big);
  opened.accept(0, bytes.subarray(0, 100), A);
  assert.throws(
    () => opened.verifyWhole(0, leaves.slice(0, 4), received.hashOf(0)!),
    malformed(/chunk 0 is open/),
  );
});
