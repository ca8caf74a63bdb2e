import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CipherState } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';

const MAX_NONCE = 0xffffffffffffffffn;

function keyed(key: Buffer): CipherState {
  const cipher = new CipherState();
  cipher.initializeKey(key);
  return cipher;
}

function referenceEncrypt(key: Buffer, nonce: bigint, ad: Buffer, plaintext: Buffer): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(nonce, 4);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(ad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

test('`CipherState` without a key passes bytes through (spec §5.1)', () => {
  const cipher = new CipherState();
  assert.equal(cipher.hasKey(), false);
  assert.deepEqual(cipher.encryptWithAd(Buffer.from('ad'), Buffer.from('hello')), Buffer.from('hello'));
  assert.equal(cipher.nonce, 0n);
});

test('`CipherState` uses 4 zero bytes and the big-endian counter as the AES-GCM nonce', () => {
  const key = randomBytes(32);
  const cipher = keyed(key);
  const ad = Buffer.from('associated');
  for (const nonce of [0n, 1n, 0xfffffffen, 0xffffffffn, 0x100000000n, MAX_NONCE - 1n]) {
    cipher.setNonce(nonce);
    const plaintext = randomBytes(40);
    assert.deepEqual(cipher.encryptWithAd(ad, plaintext), referenceEncrypt(key, nonce, ad, plaintext));
    assert.equal(cipher.nonce, nonce + 1n);
  }
});

test('`CipherState` rejects a flipped bit at every position and does not advance the nonce', () => {
  const key = randomBytes(32);
  const sender = keyed(key);
  const receiver = keyed(key);
  const record = sender.encryptWithAd(Buffer.alloc(0), Buffer.from('small record'));
  for (let bit = 0; bit < record.length * 8; bit += 1) {
    const tampered = Buffer.from(record);
    tampered[bit >> 3] = (tampered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    assert.throws(
      () => receiver.decryptWithAd(Buffer.alloc(0), tampered),
      (err) => isFerryError(err, 'DECRYPT_FAILED'),
    );
    assert.equal(receiver.nonce, 0n, `nonce advanced after bit ${bit}`);
  }
  assert.deepEqual(receiver.decryptWithAd(Buffer.alloc(0), record), Buffer.from('small record'));
  assert.equal(receiver.nonce, 1n);
});

test('`CipherState` rejects a wrong associated data, a short ciphertext and a replay', () => {
  const key = randomBytes(32);
  const sender = keyed(key);
  const receiver = keyed(key);
  const record = sender.encryptWithAd(Buffer.from('a'), Buffer.from('x'));
  assert.throws(
    () => receiver.decryptWithAd(Buffer.from('b'), record),
    (err) => isFerryError(err, 'DECRYPT_FAILED'),
  );
  assert.throws(
    () => receiver.decryptWithAd(Buffer.from('a'), record.subarray(0, 15)),
    (err) => isFerryError(err, 'DECRYPT_FAILED'),
  );
  receiver.decryptWithAd(Buffer.from('a'), record);
  assert.throws(
    () => receiver.decryptWithAd(Buffer.from('a'), record),
    (err) => isFerryError(err, 'DECRYPT_FAILED'),
  );
});

test('`CipherState` throws NONCE_EXHAUSTED at the reserved nonce 2^64-1', () => {
  const key = randomBytes(32);
  const cipher = keyed(key);
  cipher.setNonce(MAX_NONCE - 1n);
  const last = cipher.encryptWithAd(Buffer.alloc(0), Buffer.from('last'));
  assert.equal(cipher.nonce, MAX_NONCE);
  assert.throws(
    () => cipher.encryptWithAd(Buffer.alloc(0), Buffer.from('one more')),
    (err) => isFerryError(err, 'NONCE_EXHAUSTED'),
  );
  assert.equal(cipher.nonce, MAX_NONCE);

  const receiver = keyed(key);
  receiver.setNonce(MAX_NONCE - 1n);
  assert.deepEqual(receiver.decryptWithAd(Buffer.alloc(0), last), Buffer.from('last'));
  assert.throws(
    () => receiver.decryptWithAd(Buffer.alloc(0), last),
    (err) => isFerryError(err, 'NONCE_EXHAUSTED'),
  );
});

test('`CipherState` rekey follows spec §4.2 and keeps the nonce', () => {
  const key = randomBytes(32);
  const cipher = keyed(key);
  cipher.setNonce(7n);
  cipher.rekey();
  assert.equal(cipher.nonce, 7n);
  const expectedKey = referenceEncrypt(key, MAX_NONCE, Buffer.alloc(0), Buffer.alloc(32)).subarray(0, 32);
  const plaintext = Buffer.from('after rekey');
  assert.deepEqual(
    cipher.encryptWithAd(Buffer.alloc(0), plaintext),
    referenceEncrypt(expectedKey, 7n, Buffer.alloc(0), plaintext),
  );
});

test('`CipherState` prints as [redacted]', () => {
  const cipher = keyed(randomBytes(32));
  assert.match(inspect(cipher), /\[redacted\]/);
  assert.equal(JSON.stringify(cipher), '"[redacted]"');
});
