import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CipherState,
  generateKeyPair,
  HandshakeState,
  REKEY_INTERVAL_MESSAGES,
  REKEY_INTERVAL_MS,
  SessionCipher,
  isRekeyMessage,
  type SessionCipherOptions,
} from '../../src/crypto/index.js';
import { isFerryError, type ErrorCode } from '../../src/errors/index.js';

const coded = (code: ErrorCode) => (err: unknown) => isFerryError(err, code);

function cipherState(key: Buffer): CipherState {
  const cipher = new CipherState();
  cipher.initializeKey(key);
  return cipher;
}

/** Two ends of one session built from fixed keys, as if from Split(). */
function sessionPair(options?: SessionCipherOptions): { client: SessionCipher; server: SessionCipher } {
  const up = randomBytes(32);
  const down = randomBytes(32);
  return {
    client: new SessionCipher(cipherState(up), cipherState(down), options),
    server: new SessionCipher(cipherState(down), cipherState(up), options),
  };
}

test('`REKEY_INTERVAL_MESSAGES` is 2^16', () => {
  assert.equal(REKEY_INTERVAL_MESSAGES, 65536);
});

test('`SessionCipher` works on the output of a real handshake', () => {
  const client = new HandshakeState({ protocolName: 'XX', initiator: true, s: generateKeyPair() });
  const server = new HandshakeState({ protocolName: 'XX', initiator: false, s: generateKeyPair() });
  server.readMessage(client.writeMessage(Buffer.alloc(0)));
  client.readMessage(server.writeMessage(Buffer.alloc(0)));
  server.readMessage(client.writeMessage(Buffer.alloc(0)));
  const a = client.split();
  const b = server.split();
  const clientCipher = new SessionCipher(a.send, a.receive);
  const serverCipher = new SessionCipher(b.send, b.receive);
  assert.deepEqual(serverCipher.open(clientCipher.seal(Buffer.from('hello'))), Buffer.from('hello'));
  assert.deepEqual(clientCipher.open(serverCipher.seal(Buffer.from('world'))), Buffer.from('world'));
});

test('`SessionCipher` never repeats a nonce: identical plaintexts seal to distinct records', () => {
  const { client, server } = sessionPair();
  const plaintext = Buffer.alloc(64, 0x61);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i += 1) {
    const record = client.seal(plaintext);
    const text = record.toString('hex');
    assert.ok(!seen.has(text), `record ${i} repeats an earlier one`);
    seen.add(text);
    assert.deepEqual(server.open(record), plaintext);
  }
});

test('`SessionCipher` wire bytes never contain the plaintext', () => {
  const { client } = sessionPair();
  const plaintext = Buffer.from('the quick brown fox jumps over the lazy dog, again and again');
  const record = client.seal(plaintext);
  assert.equal(record.length, plaintext.length + 16);
  assert.equal(record.indexOf(plaintext.subarray(0, 8)), -1);
});

test('`SessionCipher` rejects a flipped bit, a replay and a reordered record', () => {
  const { client, server } = sessionPair();
  const first = client.seal(Buffer.from('first'));
  const second = client.seal(Buffer.from('second'));
  for (let bit = 0; bit < first.length * 8; bit += 1) {
    const tampered = Buffer.from(first);
    tampered[bit >> 3] = (tampered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    assert.throws(() => server.open(tampered), coded('DECRYPT_FAILED'));
  }
  assert.throws(() => server.open(second), coded('DECRYPT_FAILED'));
  assert.deepEqual(server.open(first), Buffer.from('first'));
  assert.throws(() => server.open(first), coded('DECRYPT_FAILED'));
  assert.deepEqual(server.open(second), Buffer.from('second'));
});

test('`SessionCipher` rekeys at the interval and both sides stay in step', () => {
  const interval = 4;
  const up = randomBytes(32);
  const rekeyed = {
    client: new SessionCipher(cipherState(up), cipherState(randomBytes(32)), {
      rekeyIntervalMessages: interval,
    }),
    server: new SessionCipher(cipherState(randomBytes(32)), cipherState(up), {
      rekeyIntervalMessages: interval,
    }),
  };
  // The same key without rekeying: identical records until the boundary, different ones after it.
  const plain = new SessionCipher(cipherState(up), cipherState(randomBytes(32)), {
    rekeyIntervalMessages: 1e9,
  });
  for (let i = 0; i < interval * 3 + 1; i += 1) {
    const plaintext = Buffer.from(`record ${i}`);
    const record = rekeyed.client.seal(plaintext);
    const reference = plain.seal(plaintext);
    if (i < interval) assert.deepEqual(record, reference, `record ${i} before the first rekey`);
    else assert.notDeepEqual(record, reference, `record ${i} after a rekey`);
    assert.deepEqual(rekeyed.server.open(record), plaintext, `record ${i} opens across the boundary`);
  }
});

test('`SessionCipher` rekeys each direction on its own count', () => {
  const { client, server } = sessionPair({ rekeyIntervalMessages: 3 });
  for (let i = 0; i < 10; i += 1) {
    assert.deepEqual(server.open(client.seal(Buffer.from(`up ${i}`))), Buffer.from(`up ${i}`));
    if (i % 3 === 0)
      assert.deepEqual(client.open(server.seal(Buffer.from(`down ${i}`))), Buffer.from(`down ${i}`));
  }
});

test('`SessionCipher` throws NONCE_EXHAUSTED at nonce 2^64-1 and closes', () => {
  const send = cipherState(randomBytes(32));
  send.setNonce(0xfffffffffffffffen);
  const session = new SessionCipher(send, cipherState(randomBytes(32)));
  session.seal(Buffer.from('last one'));
  assert.throws(() => session.seal(Buffer.from('too many')), coded('NONCE_EXHAUSTED'));
  assert.equal(session.closed, true);
  assert.throws(() => session.seal(Buffer.from('after')), coded('MESSAGE_UNEXPECTED'));
});

test('`SessionCipher` close is idempotent and stops seal and open', () => {
  const { client } = sessionPair();
  client.close();
  client.close();
  assert.throws(() => client.seal(Buffer.from('x')), coded('MESSAGE_UNEXPECTED'));
  assert.throws(() => client.open(Buffer.alloc(32)), coded('MESSAGE_UNEXPECTED'));
});

test('`SessionCipher` refuses unkeyed cipher states and a bad interval', () => {
  assert.throws(() => new SessionCipher(new CipherState(), new CipherState()), coded('USAGE_INVALID'));
  const key = randomBytes(32);
  assert.throws(
    () => new SessionCipher(cipherState(key), cipherState(key), { rekeyIntervalMessages: 0 }),
    coded('USAGE_INVALID'),
  );
});

test('`SessionCipher` prints as [redacted]', () => {
  const { client } = sessionPair();
  assert.equal(inspect(client), 'SessionCipher [redacted]');
  assert.equal(JSON.stringify({ client }), '{"client":"[redacted]"}');
});

/** A clock the test moves by hand (PROTOCOL.md §4.3: time is injected). */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

test('`REKEY_INTERVAL_MS` is 2 minutes', () => {
  assert.equal(REKEY_INTERVAL_MS, 120_000);
});

test('a send key past the time bound is due; sealRekey sends REKEY and both sides move to the next key', () => {
  const clock = fakeClock();
  const { client, server } = sessionPair({ now: clock.now, rekeyIntervalMs: 1000 });
  // Before the bound nothing is due, however many records pass.
  for (let i = 0; i < 5; i++) server.open(client.seal(Buffer.from(`early ${i}`)));
  assert.equal(client.rekeyDue, false);
  clock.advance(999);
  assert.equal(client.rekeyDue, false);
  clock.advance(1);
  assert.equal(client.rekeyDue, true);
  // A copy of the server's receive key from before the REKEY: what an attacker who took it learns.
  const rekey = client.sealRekey();
  assert.equal(client.rekeyDue, false, 'the clock restarts at the rekey');
  const opened = server.open(Buffer.concat(rekey));
  assert.ok(isRekeyMessage(opened), 'the REKEY record opens to the one-byte REKEY message');
  const after = Buffer.from('after the rekey');
  assert.deepEqual(server.open(client.seal(after)), after);
  // The other direction is untouched: it has its own clock and key.
  assert.equal(server.rekeyDue, true);
  assert.deepEqual(client.open(server.seal(Buffer.from('down'))), Buffer.from('down'));
});

test('a record after REKEY does not open under the old key (the old key protects only what came before)', () => {
  const clock = fakeClock();
  const up = randomBytes(32);
  const client = new SessionCipher(cipherState(up), cipherState(randomBytes(32)), { now: clock.now });
  // A receiver that never saw the REKEY keeps the old key: the next record fails to authenticate under it.
  const stale = new SessionCipher(cipherState(randomBytes(32)), cipherState(up));
  clock.advance(REKEY_INTERVAL_MS);
  assert.equal(client.rekeyDue, true);
  client.sealRekey();
  assert.throws(() => stale.open(client.seal(Buffer.from('x'))), coded('DECRYPT_FAILED'));
});

test('time and count rekeys stay in step: REKEY restarts the count on both sides', () => {
  const clock = fakeClock();
  const { client, server } = sessionPair({ now: clock.now, rekeyIntervalMs: 50, rekeyIntervalMessages: 3 });
  for (let i = 0; i < 40; i++) {
    if (i % 7 === 0) clock.advance(60);
    if (client.rekeyDue) assert.ok(isRekeyMessage(server.open(Buffer.concat(client.sealRekey()))));
    const message = Buffer.from(`record ${i}`);
    assert.deepEqual(server.open(client.seal(message)), message, `record ${i}`);
  }
});

test('without a clock there is no time bound; a REKEY with a body is MESSAGE_MALFORMED', () => {
  const { client, server } = sessionPair();
  assert.equal(client.rekeyDue, false);
  assert.throws(() => server.open(client.seal(Buffer.of(0x05, 0))), coded('MESSAGE_MALFORMED'));
  assert.throws(
    () =>
      new SessionCipher(cipherState(randomBytes(32)), cipherState(randomBytes(32)), { rekeyIntervalMs: 0 }),
    coded('USAGE_INVALID'),
  );
});
