// leafHash over bytes in shared memory (a delta's read buffers, lent to the leaf hash thread): the RFC 6962
// leaf hash of those bytes, taken where they lie. V8 copies out of a SharedArrayBuffer element by element
// (issue 16: most of a shifted delta upload's server main thread was that copy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { LEAF_BYTES, leafHash } from '../../src/protocol/index.js';

/** SHA-256(0x00 || bytes), the textbook RFC 6962 §2.1 leaf hash. */
function rfcLeafHash(bytes: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(bytes)
    .digest();
}

test('leafHash of a leaf in shared memory is its RFC 6962 leaf hash, and copies none of its bytes', () => {
  const plain = randomBytes(3 * LEAF_BYTES);
  const shared = Buffer.from(new SharedArrayBuffer(plain.length));
  plain.copy(shared);
  // Every way a typed array copies bytes in: counted while the leaves are hashed.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back below; applied to its receiver
  const set = Uint8Array.prototype.set;
  let copied = 0;
  Uint8Array.prototype.set = function (this: Uint8Array, ...args: Parameters<typeof set>) {
    if (args[0] instanceof Uint8Array && args[0].buffer instanceof SharedArrayBuffer) copied++;
    return set.apply(this, args);
  };
  let hashes: Buffer[];
  try {
    hashes = [0, 1, 2].map((leaf) => leafHash(shared.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES)));
    hashes.push(leafHash(shared.subarray(LEAF_BYTES + 5, 2 * LEAF_BYTES - 7)));
  } finally {
    Uint8Array.prototype.set = set;
  }
  assert.equal(copied, 0);
  [0, 1, 2].forEach((leaf) =>
    assert.deepEqual(hashes[leaf], rfcLeafHash(plain.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES))),
  );
  assert.deepEqual(hashes[3], rfcLeafHash(plain.subarray(LEAF_BYTES + 5, 2 * LEAF_BYTES - 7)));
  assert.deepEqual(hashes[0], leafHash(plain.subarray(0, LEAF_BYTES)));
});
