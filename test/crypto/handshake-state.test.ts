import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  generateKeyPair,
  HandshakeState,
  NOISE_MAX_MESSAGE_BYTES,
  type KeyPair,
} from '../../src/crypto/index.js';
import { isFerryError, type ErrorCode } from '../../src/errors/index.js';

const EMPTY = Buffer.alloc(0);
const PROLOGUE = Buffer.from('ferry test');
const coded = (code: ErrorCode) => (err: unknown) => isFerryError(err, code);

function xxPair(): {
  client: HandshakeState;
  server: HandshakeState;
  clientKey: KeyPair;
  serverKey: KeyPair;
} {
  const clientKey = generateKeyPair();
  const serverKey = generateKeyPair();
  return {
    client: new HandshakeState({ protocolName: 'XX', initiator: true, prologue: PROLOGUE, s: clientKey }),
    server: new HandshakeState({ protocolName: 'XX', initiator: false, prologue: PROLOGUE, s: serverKey }),
    clientKey,
    serverKey,
  };
}

test('`HandshakeState` completes XX and both sides agree on keys, hash and identities', () => {
  const { client, server, clientKey, serverKey } = xxPair();
  // -> e
  assert.deepEqual(server.readMessage(client.writeMessage(Buffer.from('one'))), Buffer.from('one'));
  // <- e, ee, s, es
  assert.deepEqual(client.readMessage(server.writeMessage(Buffer.from('two'))), Buffer.from('two'));
  assert.deepEqual(client.remoteStaticPublicKey, serverKey.publicKey);
  // -> s, se
  assert.deepEqual(server.readMessage(client.writeMessage(Buffer.from('three'))), Buffer.from('three'));
  assert.deepEqual(server.remoteStaticPublicKey, clientKey.publicKey);
  assert.ok(client.isComplete && server.isComplete);
  assert.deepEqual(client.handshakeHash, server.handshakeHash);
  const a = client.split();
  const b = server.split();
  assert.deepEqual(
    b.receive.decryptWithAd(EMPTY, a.send.encryptWithAd(EMPTY, Buffer.from('up'))),
    Buffer.from('up'),
  );
  assert.deepEqual(
    a.receive.decryptWithAd(EMPTY, b.send.encryptWithAd(EMPTY, Buffer.from('down'))),
    Buffer.from('down'),
  );
});

test('`HandshakeState` uses the injected ephemeral generator', () => {
  const ephemeral = generateKeyPair();
  let calls = 0;
  const client = new HandshakeState({
    protocolName: 'Noise_NN_25519_AESGCM_SHA256',
    initiator: true,
    generateEphemeral: () => {
      calls += 1;
      return ephemeral;
    },
  });
  const message = client.writeMessage(EMPTY);
  assert.equal(calls, 1);
  assert.deepEqual(message.subarray(0, 32), ephemeral.publicKey);
});

test('`HandshakeState` refuses a call out of turn with MESSAGE_UNEXPECTED', () => {
  const { client, server } = xxPair();
  assert.throws(() => client.readMessage(Buffer.alloc(32)), coded('MESSAGE_UNEXPECTED'));
  assert.throws(() => server.writeMessage(EMPTY), coded('MESSAGE_UNEXPECTED'));
  assert.throws(() => client.split(), coded('MESSAGE_UNEXPECTED'));
  assert.throws(() => client.handshakeHash, coded('MESSAGE_UNEXPECTED'));
  server.readMessage(client.writeMessage(EMPTY));
  client.readMessage(server.writeMessage(EMPTY));
  server.readMessage(client.writeMessage(EMPTY));
  assert.throws(() => client.writeMessage(EMPTY), coded('MESSAGE_UNEXPECTED'));
  assert.throws(() => server.readMessage(Buffer.alloc(64)), coded('MESSAGE_UNEXPECTED'));
  client.split();
  assert.throws(() => client.split(), coded('MESSAGE_UNEXPECTED'));
});

test('`HandshakeState` rejects a truncated message with HANDSHAKE_FAILED and stays failed', () => {
  const { client, server } = xxPair();
  const first = client.writeMessage(EMPTY);
  assert.throws(() => server.readMessage(first.subarray(0, 31)), coded('HANDSHAKE_FAILED'));
  assert.throws(() => server.readMessage(first), coded('HANDSHAKE_FAILED'));

  const fresh = xxPair();
  fresh.server.readMessage(fresh.client.writeMessage(EMPTY));
  const second = fresh.server.writeMessage(EMPTY);
  // e (32) + encrypted s (48) + empty payload tag (16) is the minimum for message 2.
  assert.equal(second.length, 96);
  assert.throws(() => fresh.client.readMessage(second.subarray(0, 95)), coded('HANDSHAKE_FAILED'));
});

test('`HandshakeState` rejects a tampered message with DECRYPT_FAILED', () => {
  const { client, server } = xxPair();
  server.readMessage(client.writeMessage(EMPTY));
  const second = server.writeMessage(Buffer.from('payload'));
  second[40] = (second[40] ?? 0) ^ 0x80;
  assert.throws(() => client.readMessage(second), coded('DECRYPT_FAILED'));
  assert.throws(() => client.writeMessage(EMPTY), coded('HANDSHAKE_FAILED'));
});

test('`HandshakeState` rejects a low-order ephemeral key with INVALID_PUBLIC_KEY', () => {
  const { client, server } = xxPair();
  server.readMessage(client.writeMessage(EMPTY));
  const second = server.writeMessage(EMPTY);
  second.fill(0, 0, 32);
  assert.throws(() => client.readMessage(second), coded('INVALID_PUBLIC_KEY'));
});

test('`HandshakeState` enforces the 65535-byte message limit', () => {
  const { client, server } = xxPair();
  // Message 1 of XX is e (32 bytes) plus the payload in clear.
  assert.throws(
    () => client.writeMessage(Buffer.alloc(NOISE_MAX_MESSAGE_BYTES - 31)),
    coded('USAGE_INVALID'),
  );
  const largest = client.writeMessage(Buffer.alloc(NOISE_MAX_MESSAGE_BYTES - 32));
  assert.equal(largest.length, NOISE_MAX_MESSAGE_BYTES);
  assert.throws(
    () => server.readMessage(Buffer.alloc(NOISE_MAX_MESSAGE_BYTES + 1)),
    coded('HANDSHAKE_FAILED'),
  );
});

for (const protocolName of ['KK', 'IK']) {
  test(`\`HandshakeState\` ${protocolName} fails when the initiator holds a wrong remote static key`, () => {
    const clientKey = generateKeyPair();
    const serverKey = generateKeyPair();
    const impostor = generateKeyPair();
    const client = new HandshakeState({
      protocolName,
      initiator: true,
      s: clientKey,
      rs: impostor.publicKey,
    });
    const server = new HandshakeState({
      protocolName,
      initiator: false,
      s: serverKey,
      ...(protocolName === 'KK' ? { rs: clientKey.publicKey } : {}),
    });
    assert.throws(
      () => server.readMessage(client.writeMessage(Buffer.from('secret'))),
      coded('DECRYPT_FAILED'),
    );
  });
}

test('`HandshakeState` KK fails when the responder expects another client key', () => {
  const clientKey = generateKeyPair();
  const serverKey = generateKeyPair();
  const client = new HandshakeState({
    protocolName: 'KK',
    initiator: true,
    s: clientKey,
    rs: serverKey.publicKey,
  });
  const server = new HandshakeState({
    protocolName: 'KK',
    initiator: false,
    s: serverKey,
    rs: generateKeyPair().publicKey,
  });
  assert.throws(() => server.readMessage(client.writeMessage(EMPTY)), coded('DECRYPT_FAILED'));
});

test('`HandshakeState` refuses options that do not fit the pattern', () => {
  const key = generateKeyPair();
  assert.throws(() => new HandshakeState({ protocolName: 'XX', initiator: true }), coded('USAGE_INVALID'));
  assert.throws(
    () => new HandshakeState({ protocolName: 'IK', initiator: true, s: key }),
    coded('USAGE_INVALID'),
  );
  assert.throws(
    () => new HandshakeState({ protocolName: 'NN', initiator: true, rs: key.publicKey }),
    coded('USAGE_INVALID'),
  );
  assert.throws(
    () => new HandshakeState({ protocolName: 'NNpsk0', initiator: true }),
    coded('USAGE_INVALID'),
  );
  assert.throws(
    () => new HandshakeState({ protocolName: 'NNpsk0', initiator: true, psks: [Buffer.alloc(16)] }),
    coded('USAGE_INVALID'),
  );
  assert.throws(
    () => new HandshakeState({ protocolName: 'Noise_XX_448_AESGCM_SHA256', initiator: true }),
    coded('HANDSHAKE_FAILED'),
  );
});

test('`HandshakeState` psk mismatch fails the handshake', () => {
  const client = new HandshakeState({ protocolName: 'NNpsk0', initiator: true, psks: [Buffer.alloc(32, 1)] });
  const server = new HandshakeState({
    protocolName: 'NNpsk0',
    initiator: false,
    psks: [Buffer.alloc(32, 2)],
  });
  assert.throws(() => server.readMessage(client.writeMessage(EMPTY)), coded('DECRYPT_FAILED'));
});

test('`HandshakeState` prints as [redacted]', () => {
  const { client } = xxPair();
  assert.match(inspect(client), /\[redacted\]/);
  assert.equal(JSON.stringify(client), '"[redacted]"');
});

function hfsPair(): { client: HandshakeState; server: HandshakeState } {
  const options = { protocolName: 'XXhfs', prologue: PROLOGUE };
  return {
    client: new HandshakeState({ ...options, initiator: true, s: generateKeyPair() }),
    server: new HandshakeState({ ...options, initiator: false, s: generateKeyPair() }),
  };
}

test('`HandshakeState` XXhfs: a changed KEM ciphertext in message 2 fails its authentication (DECRYPT_FAILED)', () => {
  const { client, server } = hfsPair();
  server.readMessage(client.writeMessage(EMPTY));
  const m2 = server.writeMessage(EMPTY);
  // Bytes 32.. are ekem1's ciphertext, encrypted under the ee key.
  m2[32 + 100] = (m2[32 + 100] ?? 0) ^ 1;
  assert.throws(() => client.readMessage(m2), coded('DECRYPT_FAILED'));
  assert.throws(() => client.readMessage(m2), coded('HANDSHAKE_FAILED'), 'the state stays failed');
});

test('`HandshakeState` XXhfs: an e1 key that fails the FIPS 203 check fails the responder (HANDSHAKE_FAILED)', () => {
  const { client, server } = hfsPair();
  const m1 = client.writeMessage(EMPTY);
  // e1 is in clear after e (32 bytes): a first coefficient of 0xfff (> q = 3329) breaks the modulus check.
  m1[32] = 0xff;
  m1[33] = (m1[33] ?? 0) | 0x0f;
  server.readMessage(m1);
  assert.throws(() => server.writeMessage(EMPTY), coded('HANDSHAKE_FAILED'));
  assert.throws(() => server.writeMessage(EMPTY), coded('HANDSHAKE_FAILED'), 'the state stays failed');
});

test('`HandshakeState` XXhfs: both sides reach the same handshake hash, and two handshakes never share one', () => {
  const hashes = [0, 1].map(() => {
    const { client, server } = hfsPair();
    server.readMessage(client.writeMessage(EMPTY));
    client.readMessage(server.writeMessage(EMPTY));
    server.readMessage(client.writeMessage(Buffer.from('hello')));
    assert.deepEqual(client.handshakeHash, server.handshakeHash);
    return client.handshakeHash.toString('hex');
  });
  assert.notEqual(hashes[0], hashes[1]);
});

test('`HandshakeState` XXhfs counts e1 in the 65535-byte limit', () => {
  const { client } = hfsPair();
  assert.throws(
    () => client.writeMessage(Buffer.alloc(NOISE_MAX_MESSAGE_BYTES - 32 - 1184 + 1)),
    coded('USAGE_INVALID'),
  );
  assert.equal(
    client.writeMessage(Buffer.alloc(NOISE_MAX_MESSAGE_BYTES - 32 - 1184)).length,
    NOISE_MAX_MESSAGE_BYTES,
  );
});
