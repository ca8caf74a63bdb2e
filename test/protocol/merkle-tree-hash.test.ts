// The RFC 6962 Merkle Tree Hash under ferry's chunk hash and file digest (PROTOCOL.md §7.2), checked against
// the vendored Certificate Transparency / Trillian vectors (test/vectors/rfc6962-merkle-tree-hash.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MerkleStack, leafHash, nodeHash } from '../../src/protocol/index.js';

const RFC = JSON.parse(
  readFileSync(new URL('../vectors/rfc6962-merkle-tree-hash.json', import.meta.url), 'utf8'),
) as { leafInputs: string[]; leafHashes: string[]; rootHashes: string[] };

test('leafHash of each RFC 6962 leaf input is the published leaf hash', () => {
  assert.equal(RFC.leafInputs.length, 8);
  for (const [i, input] of RFC.leafInputs.entries()) {
    assert.equal(leafHash(Buffer.from(input, 'hex')).toString('hex'), RFC.leafHashes[i], `leaf ${i}`);
  }
});

test('MerkleStack over the first n RFC 6962 leaves gives the published root for n = 0..8', () => {
  assert.equal(RFC.rootHashes.length, 9);
  for (let n = 0; n <= 8; n++) {
    const tree = new MerkleStack();
    for (const input of RFC.leafInputs.slice(0, n)) tree.push(leafHash(Buffer.from(input, 'hex')));
    assert.equal(tree.size, n);
    assert.equal(tree.root().toString('hex'), RFC.rootHashes[n], `tree of ${n} leaves`);
  }
});

test('MerkleStack of subtree roots equals MTH of their leaves (RFC 6962: a chunk hash is an aligned subtree)', () => {
  const leaves = RFC.leafInputs.map((input) => leafHash(Buffer.from(input, 'hex')));
  // Eight leaves as four "chunks" of two, and seven leaves as 2+2+2+1: the last subtree may be short.
  for (const n of [8, 7, 5]) {
    const chunks = new MerkleStack();
    for (let at = 0; at < n; at += 2) {
      chunks.push(at + 1 < n ? nodeHash(leaves[at]!, leaves[at + 1]!) : leaves[at]!);
    }
    assert.equal(chunks.root().toString('hex'), RFC.rootHashes[n], `${n} leaves in chunks of two`);
  }
});
