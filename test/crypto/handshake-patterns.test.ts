import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateKeyPair,
  HANDSHAKE_PATTERNS,
  handshakePattern,
  HandshakeState,
  parseProtocolName,
  type HandshakeOptions,
} from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';

const FUNDAMENTAL = ['NN', 'NK', 'NX', 'KN', 'KK', 'KX', 'XN', 'XK', 'XX', 'IN', 'IK', 'IX'];
const ONE_WAY = ['N', 'K', 'X'];
const DEFERRED = [
  'NK1',
  'NX1',
  'X1N',
  'X1K',
  'XK1',
  'X1K1',
  'X1X',
  'XX1',
  'X1X1',
  'K1N',
  'K1K',
  'KK1',
  'K1K1',
  'K1X',
  'KX1',
  'K1X1',
  'I1N',
  'I1K',
  'IK1',
  'I1K1',
  'I1X',
  'IX1',
  'I1X1',
];

test('`HANDSHAKE_PATTERNS` holds every fundamental, one-way and deferred pattern', () => {
  assert.deepEqual(Object.keys(HANDSHAKE_PATTERNS).sort(), [...FUNDAMENTAL, ...ONE_WAY, ...DEFERRED].sort());
  for (const name of ONE_WAY) assert.equal(handshakePattern(name).oneWay, true);
  for (const name of [...FUNDAMENTAL, ...DEFERRED]) {
    const pattern = handshakePattern(name);
    assert.equal(pattern.oneWay, false);
    pattern.messages.forEach((message, index) => {
      assert.equal(message.sender, index % 2 === 0 ? 'initiator' : 'responder', `${name} message ${index}`);
    });
  }
});

test('`handshakePattern` places psk0 first and pskN last in message N', () => {
  assert.deepEqual(handshakePattern('NNpsk0').messages[0]?.tokens, ['psk', 'e']);
  assert.deepEqual(handshakePattern('NNpsk2').messages[1]?.tokens, ['e', 'ee', 'psk']);
  const both = handshakePattern('XXpsk0+psk3');
  assert.deepEqual(both.messages[0]?.tokens, ['psk', 'e']);
  assert.deepEqual(both.messages[2]?.tokens, ['s', 'se', 'psk']);
  assert.equal(both.pskCount, 2);
  // A modifier must not leak into the shared table.
  assert.deepEqual(handshakePattern('NN').messages[0]?.tokens, ['e']);
});

test('`parseProtocolName` reports unsupported names', () => {
  for (const name of [
    'Noise_XX_448_AESGCM_SHA256',
    'Noise_XX_25519_ChaChaPoly_SHA256',
    'Noise_XX_25519_AESGCM_BLAKE2s',
    'Noise_XXfallback_25519_AESGCM_SHA256',
    'Noise_NNpsk3_25519_AESGCM_SHA256',
    'Noise_ZZ_25519_AESGCM_SHA256',
    'Noise_XX_25519_AESGCM',
    'NoiseXX',
    // hfs needs the KEM named beside the DH function, and only hfs may name one (noise_hfs §5).
    'Noise_XXhfs_25519_AESGCM_SHA256',
    'Noise_XX_25519+MLKEM768_AESGCM_SHA256',
    'Noise_XXhfs_25519+Kyber1024_AESGCM_SHA256',
    // The spec's table places e1 inconsistently when the first message also has a DH: refused, not guessed.
    'Noise_NKhfs_25519+MLKEM768_AESGCM_SHA256',
    'Noise_Nhfs_25519+MLKEM768_AESGCM_SHA256',
  ]) {
    assert.throws(
      () => parseProtocolName(name),
      (err) => isFerryError(err, 'HANDSHAKE_FAILED') && /unsupported/.test(err.message),
      name,
    );
  }
  assert.equal(parseProtocolName('IKpsk2').name, 'Noise_IKpsk2_25519_AESGCM_SHA256');
  assert.equal(parseProtocolName('XXhfs').name, 'Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256');
});

test('`handshakePattern` places e1 after the first e and ekem1 after the first ee (noise_hfs §5)', () => {
  const pattern = handshakePattern('XXhfs');
  assert.equal(pattern.hfs, true);
  assert.deepEqual(
    pattern.messages.map((m) => m.tokens),
    [
      ['e', 'e1'],
      ['e', 'ee', 'ekem1', 's', 'es'],
      ['s', 'se'],
    ],
  );
  assert.deepEqual(handshakePattern('NXhfs').messages[1]?.tokens, ['e', 'ee', 'ekem1', 's', 'es']);
  assert.deepEqual(handshakePattern('IXhfs').messages[0]?.tokens, ['e', 'e1', 's']);
  assert.deepEqual(handshakePattern('XXhfspsk3').messages[2]?.tokens, ['s', 'se', 'psk']);
  assert.equal(handshakePattern('XX').hfs, false);
  assert.deepEqual(
    handshakePattern('XX').messages[0]?.tokens,
    ['e'],
    'hfs does not leak into the shared table',
  );
});

// Every pattern, bare and with psk modifiers, completes with random keys and yields matching transport keys;
// so do the hfs patterns whose e1 placement is unambiguous, with and without psk.
const HFS = ['NN', 'NX', 'XN', 'XX', 'KN', 'KX', 'IX'];
const VARIANTS = [...FUNDAMENTAL, ...ONE_WAY, ...DEFERRED]
  .flatMap((name) => {
    const count = handshakePattern(name).messages.length;
    return [name, `${name}psk0`, `${name}psk${count}`];
  })
  .concat(HFS.flatMap((name) => [`${name}hfs`, `${name}hfspsk0`]));

test('`HandshakeState` completes every pattern with random keys, with and without psk', () => {
  for (const name of VARIANTS) {
    const pattern = handshakePattern(name);
    const initiatorStatic = generateKeyPair();
    const responderStatic = generateKeyPair();
    const psks = Array.from({ length: pattern.pskCount }, (_, i) => Buffer.alloc(32, i + 1));
    const sendsStatic = (role: string) =>
      pattern.messages.some((m) => m.sender === role && m.tokens.includes('s'));
    const options = (initiator: boolean): HandshakeOptions => {
      const [ours, theirs] = initiator
        ? [pattern.initiatorPreMessage, pattern.responderPreMessage]
        : [pattern.responderPreMessage, pattern.initiatorPreMessage];
      const [own, peer] = initiator ? [initiatorStatic, responderStatic] : [responderStatic, initiatorStatic];
      const needS = ours.includes('s') || sendsStatic(initiator ? 'initiator' : 'responder');
      return {
        protocolName: name,
        initiator,
        prologue: Buffer.from('p'),
        ...(needS ? { s: own } : {}),
        ...(theirs.includes('s') ? { rs: peer.publicKey } : {}),
        psks,
      };
    };
    const initiator = new HandshakeState(options(true));
    const responder = new HandshakeState(options(false));
    pattern.messages.forEach((message, index) => {
      const [from, to] = message.sender === 'initiator' ? [initiator, responder] : [responder, initiator];
      const payload = Buffer.from(`${name} ${index}`);
      assert.deepEqual(to.readMessage(from.writeMessage(payload)), payload, `${name} message ${index}`);
    });
    assert.ok(initiator.isComplete && responder.isComplete, name);
    assert.deepEqual(initiator.handshakeHash, responder.handshakeHash, name);
    const a = initiator.split();
    const b = responder.split();
    const record = Buffer.from('record');
    assert.deepEqual(
      b.receive.decryptWithAd(Buffer.alloc(0), a.send.encryptWithAd(Buffer.alloc(0), record)),
      record,
      name,
    );
    if (!pattern.oneWay) {
      assert.deepEqual(
        a.receive.decryptWithAd(Buffer.alloc(0), b.send.encryptWithAd(Buffer.alloc(0), record)),
        record,
        name,
      );
    }
    // Whoever learns a static key (pre-message or sent) must end up holding exactly that key.
    if (pattern.initiatorPreMessage.includes('s') || sendsStatic('initiator')) {
      assert.deepEqual(responder.remoteStaticPublicKey, initiatorStatic.publicKey, name);
    }
    if (pattern.responderPreMessage.includes('s') || sendsStatic('responder')) {
      assert.deepEqual(initiator.remoteStaticPublicKey, responderStatic.publicKey, name);
    }
  }
});
