// The proof of a new server key (PROTOCOL.md §13.3): a static-static DH between the new server key and the
// client key, keyed by HKDF into an HMAC over the session's handshake hash. Both sides compute the same proof,
// and any other session, client, old key, new key or next commitment gives another one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  clientRotationProof,
  generateKeyPair,
  keyCommitment,
  serverRotationProof,
} from '../../src/crypto/index.js';
import { KEY_COMMITMENT_BYTES, decodeMessage, encodeMessage } from '../../src/protocol/index.js';
import { isFerryError } from '../../src/errors/index.js';

test('server and client compute the same proof; any other input changes it', () => {
  const next = generateKeyPair();
  const clientKeys = generateKeyPair();
  const binding = {
    handshakeHash: randomBytes(32),
    oldKey: generateKeyPair().publicKey,
    nextCommitment: keyCommitment(generateKeyPair().publicKey),
  };
  const proof = serverRotationProof(next, clientKeys.publicKey, binding);
  assert.equal(proof.length, 32);
  assert.deepEqual(clientRotationProof(clientKeys, next.publicKey, binding), proof);
  const others = [
    clientRotationProof(clientKeys, next.publicKey, { ...binding, handshakeHash: randomBytes(32) }),
    clientRotationProof(clientKeys, next.publicKey, { ...binding, oldKey: generateKeyPair().publicKey }),
    clientRotationProof(clientKeys, next.publicKey, { ...binding, nextCommitment: randomBytes(32) }),
    clientRotationProof(generateKeyPair(), next.publicKey, binding),
    clientRotationProof(clientKeys, generateKeyPair().publicKey, binding),
  ];
  for (const other of others) assert.notDeepEqual(other, proof);
});

test('the commitment is SHA-256 of the public key', () => {
  const key = generateKeyPair();
  assert.equal(keyCommitment(key.publicKey).length, KEY_COMMITMENT_BYTES);
  assert.equal(
    keyCommitment(Buffer.alloc(32)).toString('hex'),
    '66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925',
  );
});

test('KEY_COMMIT and KEY_ROTATE round-trip with fixed bodies and refuse any other length', () => {
  const commit = { type: 'KEY_COMMIT' as const, commitment: randomBytes(32) };
  const rotate = {
    type: 'KEY_ROTATE' as const,
    newKey: randomBytes(32),
    nextCommitment: randomBytes(32),
    proof: randomBytes(32),
  };
  for (const message of [commit, rotate]) {
    const bytes = encodeMessage(message);
    assert.deepEqual(decodeMessage(bytes), message);
    assert.throws(
      () => decodeMessage(bytes.subarray(0, bytes.length - 1)),
      (err) => isFerryError(err, 'MESSAGE_MALFORMED'),
    );
    assert.throws(
      () => decodeMessage(Buffer.concat([bytes, Buffer.of(0)])),
      (err) => isFerryError(err, 'MESSAGE_MALFORMED'),
    );
  }
  assert.equal(encodeMessage(commit)[0], 0x50);
  assert.equal(encodeMessage(rotate)[0], 0x51);
  assert.equal(encodeMessage(rotate).length, 1 + 96);
});
