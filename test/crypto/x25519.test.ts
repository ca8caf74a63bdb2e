import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { dh, generateKeyPair, keyPairFromPrivateBytes, publicKeyFromBytes } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

// RFC 7748 §6.1.
const ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_PRIVATE = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

// Points of order 1, 2, 4 and 8 and their non-canonical encodings (0 + p, 1 + p, p - 1), as listed by
// D. J. Bernstein (cr.yp.to/ecdh.html) and blocked by libsodium: DH with any of them yields all zeros.
const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

test('`keyPairFromPrivateBytes` derives the RFC 7748 public keys and dh the shared secret', () => {
  const alice = keyPairFromPrivateBytes(hex(ALICE_PRIVATE));
  const bob = keyPairFromPrivateBytes(hex(BOB_PRIVATE));
  assert.equal(alice.publicKey.toString('hex'), ALICE_PUBLIC);
  assert.equal(bob.publicKey.toString('hex'), BOB_PUBLIC);
  assert.equal(dh(alice.privateKey, bob.publicKey).toString('hex'), SHARED);
  assert.equal(dh(bob.privateKey, alice.publicKey).toString('hex'), SHARED);
});

test('`generateKeyPair` gives distinct keys that agree on a secret', () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  assert.equal(a.publicKey.length, 32);
  assert.notDeepEqual(a.publicKey, b.publicKey);
  assert.deepEqual(dh(a.privateKey, b.publicKey), dh(b.privateKey, a.publicKey));
});

test('`dh` rejects every known low-order public key with INVALID_PUBLIC_KEY', () => {
  const local = generateKeyPair();
  for (const point of LOW_ORDER_POINTS) {
    assert.throws(
      () => dh(local.privateKey, hex(point)),
      (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
      point,
    );
  }
});

test('`dh` rejects a public key of the wrong length', () => {
  const local = generateKeyPair();
  for (const length of [0, 31, 33, 64]) {
    assert.throws(
      () => dh(local.privateKey, Buffer.alloc(length, 9)),
      (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
    );
  }
  assert.throws(
    () => publicKeyFromBytes(Buffer.alloc(31)),
    (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
  );
});

test('`keyPairFromPrivateBytes` rejects a private key of the wrong length', () => {
  assert.throws(
    () => keyPairFromPrivateBytes(Buffer.alloc(31)),
    (err) => isFerryError(err, 'KEY_FILE_INVALID'),
  );
});

test('`KeyPair` prints as [redacted] and contains no hex of its keys', () => {
  const pair = keyPairFromPrivateBytes(hex(ALICE_PRIVATE));
  for (const printed of [
    inspect(pair),
    inspect({ nested: pair }, { depth: 5 }),
    JSON.stringify({ pair }),
    `${inspect(pair.privateKey)}`,
  ]) {
    assert.ok(!printed.includes(ALICE_PRIVATE), printed);
    assert.ok(!printed.includes(ALICE_PRIVATE.slice(0, 16)), printed);
    assert.ok(!printed.includes(ALICE_PUBLIC.slice(0, 16)), printed);
  }
  assert.match(inspect(pair), /\[redacted\]/);
  assert.equal(JSON.stringify(pair), '"[redacted]"');
});
