// The vectors the crypto tests check against ship inside the repository (issue 12: a fresh clone with no
// sibling checkout of the shared material beside it must test green), each pinned by the SHA-256 its README
// records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const VECTORS_DIR = new URL('../vectors/', import.meta.url);

test('the vendored vector files are in test/vectors and match the SHA-256 their README records', () => {
  const readme = readFileSync(new URL('README.md', VECTORS_DIR), 'utf8');
  // Table rows: | `file.json` | `sha256` | ... |
  const pinned = [...readme.matchAll(/^\| `([\w.-]+\.(?:json|txt|txt\.gz))` \| `([0-9a-f]{64})` \|/gm)].map(
    (m) => ({
      file: m[1]!,
      sha256: m[2]!,
    }),
  );
  assert.deepEqual(
    pinned.map((p) => p.file).sort(),
    [
      'cpace-ristretto255-sha512.json',
      'ml-kem-768-accumulated.json',
      'ml-kem-768-modulus.txt.gz',
      'ml-kem-768-strcmp.txt',
      'noise-cacophony-25519-aesgcm-sha256.json',
      'rfc6962-merkle-tree-hash.json',
    ],
    'the README lists every vendored vector file',
  );
  for (const { file, sha256 } of pinned) {
    const actual = createHash('sha256')
      .update(readFileSync(new URL(file, VECTORS_DIR)))
      .digest('hex');
    assert.equal(actual, sha256, `${file} differs from the copy its README describes`);
  }
  // Licence and provenance are part of vendoring, not an afterthought.
  for (const word of ['Source', 'Licence', 'commit']) assert.match(readme, new RegExp(word));
});
