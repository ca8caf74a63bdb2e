// FIPS 203 known-answer tests for the ML-KEM-768 that the hybrid handshake uses (PROTOCOL.md §3.1), through
// ferry's own wrapper (src/crypto/ml-kem.ts) where it has the operation (provenance in test/vectors/README.md):
// the accumulated answers of 100 KeyGen/Encaps/Decaps runs, a Decaps vector that a strcmp() comparison would
// get wrong, and 780 encapsulation keys that FIPS 203 §7.2's modulus check must refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import {
  KemKeyPair,
  ML_KEM_768_CIPHERTEXT_BYTES,
  ML_KEM_ENCAPS_RANDOMNESS_BYTES,
  ML_KEM_KEYGEN_SEED_BYTES,
  kemEncapsulate,
} from '../../src/crypto/index.js';
import { assertFerryCode } from '../protocol/message-assertions.js';

const VECTORS = new URL('../vectors/', import.meta.url);

/** Reads CCTV's `name = hex` lines. */
function readVector(file: string): Record<string, Buffer> {
  const fields: Record<string, Buffer> = {};
  for (const line of readFileSync(new URL(file, VECTORS), 'utf8').split('\n')) {
    const match = /^(\w+) = ([0-9a-f]+)$/.exec(line.trim());
    if (match) fields[match[1]!] = Buffer.from(match[2]!, 'hex');
  }
  return fields;
}

test('ML-KEM-768 KeyGen, Encaps and Decaps reproduce the accumulated FIPS 203 known answers', () => {
  const file = JSON.parse(readFileSync(new URL('ml-kem-768-accumulated.json', VECTORS), 'utf8')) as {
    vectors: { tests: number; sha: string }[];
  };
  for (const { tests, sha } of file.vectors) {
    // The inputs: one SHAKE-128 stream over empty input, drawn per test as seed (d || z), m, invalid ciphertext.
    const perTest = ML_KEM_KEYGEN_SEED_BYTES + ML_KEM_ENCAPS_RANDOMNESS_BYTES + ML_KEM_768_CIPHERTEXT_BYTES;
    const stream = createHash('shake128', { outputLength: tests * perTest }).digest();
    const accumulated = createHash('shake128', { outputLength: 32 });
    for (let i = 0, at = 0; i < tests; i++) {
      const take = (bytes: number): Buffer => stream.subarray(at, (at += bytes));
      const keyPair = new KemKeyPair(take(ML_KEM_KEYGEN_SEED_BYTES));
      accumulated.update(keyPair.publicKey);
      const { ciphertext, sharedSecret } = kemEncapsulate(
        keyPair.publicKey,
        take(ML_KEM_ENCAPS_RANDOMNESS_BYTES),
      );
      accumulated.update(ciphertext).update(sharedSecret);
      assert.ok(
        keyPair.decapsulate(ciphertext).equals(sharedSecret),
        `test ${i}: Decaps gives Encaps's secret`,
      );
      // An invalid ciphertext is implicitly rejected: a pseudorandom secret, no error.
      accumulated.update(keyPair.decapsulate(take(ML_KEM_768_CIPHERTEXT_BYTES)));
      keyPair.close();
    }
    assert.equal(accumulated.digest('hex'), sha, `${tests} tests`);
  }
});

test('ML-KEM-768 Decaps gives the CCTV "strcmp" known answer (a comparison that stops at a zero byte fails it)', () => {
  const { dk, c, K } = readVector('ml-kem-768-strcmp.txt');
  assert.ok(dk && c && K);
  assert.equal(Buffer.from(ml_kem768.decapsulate(c, Uint8Array.from(dk))).toString('hex'), K.toString('hex'));
});

test('kemEncapsulate refuses every CCTV encapsulation key that fails the FIPS 203 modulus check', () => {
  const keys = gunzipSync(readFileSync(new URL('ml-kem-768-modulus.txt.gz', VECTORS)))
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0);
  assert.equal(keys.length, 780);
  for (const key of keys) assertFerryCode(() => kemEncapsulate(Buffer.from(key, 'hex')), 'HANDSHAKE_FAILED');
});

test('KemKeyPair refuses a seed of the wrong length, and kemEncapsulate a key of the wrong length', () => {
  assertFerryCode(() => new KemKeyPair(Buffer.alloc(32)), 'USAGE_INVALID');
  assertFerryCode(() => kemEncapsulate(Buffer.alloc(1183)), 'HANDSHAKE_FAILED');
});
