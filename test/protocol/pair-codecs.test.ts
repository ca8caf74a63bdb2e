import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generatePairingCode } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import {
  PAIR_MESSAGE_BYTES,
  PAIR_MESSAGE_TYPE_CODES,
  decodeMessage,
  decodePairMessage,
  encodeMessage,
  type PairMessageType,
} from '../../src/protocol/index.js';
import { PairingClient } from '../../src/machines/pairing-client.js';
import { PairingServer } from '../../src/machines/pairing-server.js';

const leg = () => ({
  sid: randomBytes(32),
  clientStaticKey: randomBytes(32),
  serverStaticKey: randomBytes(32),
});

test('a session decoder still refuses 0x40-0x43 as unknown types, as before pairing had codecs in protocol/', () => {
  for (const [type, typeCode] of Object.entries(PAIR_MESSAGE_TYPE_CODES) as [PairMessageType, number][]) {
    const bytes = Buffer.alloc(PAIR_MESSAGE_BYTES[type]);
    bytes[0] = typeCode;
    assert.throws(
      () => decodeMessage(bytes),
      (err) =>
        isFerryError(err, 'MESSAGE_MALFORMED') &&
        err.detail === `unknown message type 0x${typeCode.toString(16)}`,
    );
  }
});

test('decodePairMessage keeps the detail texts the pairing exchange always sent in its ERROR', () => {
  assert.throws(
    () => decodePairMessage(Buffer.of(0x10, 1, 2, 3), 'PAIR_HELLO'),
    (err) =>
      isFerryError(err, 'MESSAGE_UNEXPECTED') && err.detail === 'expected pair_hello, got message type 0x10',
  );
  assert.throws(
    () => decodePairMessage(Buffer.of(0x42, 1), 'PAIR_CONFIRM'),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED') && err.detail === 'pair_confirm must be 65 bytes, got 2',
  );
  const badId = Buffer.concat([Buffer.of(0x40), Buffer.from('AB1cd', 'ascii'), randomBytes(32)]);
  assert.throws(
    () => decodePairMessage(badId, 'PAIR_HELLO'),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED') && err.detail === 'pair_hello: invite id is not base32',
  );
});

test('the pairing machines refuse a decoded message of the wrong type and a hand-built one of the wrong shape', () => {
  const pairingCode = generatePairingCode();
  const binding = leg();
  const server = new PairingServer({ ...binding, secret: pairingCode.secret });
  assert.throws(
    () => server.receive({ type: 'PAIR_CONFIRM', tag: randomBytes(64) }),
    (err) => isFerryError(err, 'MESSAGE_UNEXPECTED'),
  );
  const client = new PairingClient({ ...binding, code: pairingCode.format() });
  client.start();
  assert.throws(
    () => client.receive({ type: 'PAIR_REPLY', yb: randomBytes(31) }),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED'),
  );
  assert.throws(
    () => encodeMessage({ type: 'PAIR_HELLO', inviteId: 'AB1cd', ya: randomBytes(32) }),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED'),
  );
});
