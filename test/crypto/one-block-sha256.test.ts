// The chunk log's record checks are SHA-256 computed in JS for one-block messages (issue 16): the same
// bytes as node's SHA-256 for every message length it takes, and nothing written outside what was asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ONE_BLOCK_SHA256_MAX_BYTES, oneBlockSha256 } from '../../src/crypto/index.js';

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();

test('oneBlockSha256 gives node SHA-256 of every message of 0 to 55 bytes', () => {
  for (let length = 0; length <= ONE_BLOCK_SHA256_MAX_BYTES; length++)
    for (let round = 0; round < 20; round++) {
      const message = round === 0 ? Buffer.alloc(length, 0xff) : randomBytes(length);
      const out = Buffer.alloc(32);
      oneBlockSha256(message, out);
      assert.deepEqual(out, sha256(message), `${length} bytes: ${message.toString('hex')}`);
    }
});

test('oneBlockSha256 matches the FIPS 180-2 vector for "abc"', () => {
  const out = Buffer.alloc(32);
  oneBlockSha256(Buffer.from('abc'), out);
  assert.equal(out.toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('oneBlockSha256 writes only the bytes asked for, where asked', () => {
  const message = randomBytes(36);
  const out = Buffer.alloc(12, 0xaa);
  oneBlockSha256(message, out, 4, 4);
  assert.deepEqual(out.subarray(4, 8), sha256(message).subarray(0, 4));
  assert.deepEqual(Buffer.concat([out.subarray(0, 4), out.subarray(8)]), Buffer.alloc(8, 0xaa));
});

test('oneBlockSha256 refuses a message longer than one block and an output out of bounds', () => {
  assert.throws(() => oneBlockSha256(Buffer.alloc(56), Buffer.alloc(32)), /more than one block/);
  assert.throws(() => oneBlockSha256(Buffer.alloc(1), Buffer.alloc(31)), /no room/);
  assert.throws(() => oneBlockSha256(Buffer.alloc(1), Buffer.alloc(32), 30, 4), /no room/);
});
