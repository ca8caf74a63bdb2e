// The pairing exchange (PROTOCOL.md §12.5, §12.6) as the two tables it steps through (§6.7, §6.8), driven
// with message bytes only. The cryptography of each step is tested in test/crypto/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { generatePairingCode } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { PairingClient } from '../../src/machines/pairing-client.js';
import {
  PAIRING_CLIENT_TRANSITIONS,
  PAIRING_SERVER_TRANSITIONS,
  type PairingStep,
} from '../../src/machines/pairing-exchange.js';
import { PairingServer } from '../../src/machines/pairing-server.js';
import { encodeMessage } from '../../src/protocol/index.js';

function leg(): { sid: Buffer; clientStaticKey: Buffer; serverStaticKey: Buffer } {
  return { sid: randomBytes(32), clientStaticKey: randomBytes(32), serverStaticKey: randomBytes(32) };
}

const sent = (step: PairingStep): Buffer => {
  assert.ok(step.send !== undefined);
  return encodeMessage(step.send);
};

const unexpected =
  (detail: string) =>
  (err: unknown): boolean =>
    isFerryError(err, 'MESSAGE_UNEXPECTED') && err.detail === detail;

test('a pairing from bytes walks every row of both tables, in order, and ends `paired` on both sides', () => {
  const code = generatePairingCode();
  const binding = leg();
  const client = new PairingClient({ ...binding, code: code.format() });
  const server = new PairingServer({ ...binding, secret: code.secret });
  const walked = { client: [] as string[], server: [] as string[] };
  const state = (machine: PairingClient | PairingServer): string =>
    /^Pairing\w+ (\S+)/.exec(inspect(machine))![1]!;

  walked.client.push(`${state(client)} start`);
  const hello = encodeMessage(client.start());
  walked.server.push(`${state(server)} PAIR_HELLO`);
  const reply = sent(server.receive(hello));
  walked.client.push(`${state(client)} PAIR_REPLY`);
  const confirm = sent(client.receive(reply));
  walked.server.push(`${state(server)} PAIR_CONFIRM`);
  const done = server.receive(confirm);
  assert.equal(done.done, true);
  walked.client.push(`${state(client)} PAIR_DONE`);
  assert.equal(client.receive(sent(done)).done, true);

  assert.deepEqual(
    walked.client,
    PAIRING_CLIENT_TRANSITIONS.map((row) => `${row.state} ${row.event}`),
  );
  assert.deepEqual(
    walked.server,
    PAIRING_SERVER_TRANSITIONS.map((row) => `${row.state} ${row.event}`),
  );
  assert.equal(state(client), 'paired');
  assert.equal(state(server), 'paired');
});

test('the pairing tables refuse a step out of order with MESSAGE_UNEXPECTED "<event> in state <state>"', () => {
  const code = generatePairingCode();
  const binding = leg();
  const server = new PairingServer({ ...binding, secret: code.secret });
  // A decoded message the table does not allow here.
  assert.throws(
    () => server.receive({ type: 'PAIR_CONFIRM', tag: randomBytes(64) }),
    unexpected('PAIR_CONFIRM in state new'),
  );
  const client = new PairingClient({ ...binding, code: code.format() });
  client.start();
  assert.throws(() => client.start(), unexpected('start in state hello-sent'));
  // PAIR_DONE where PAIR_REPLY is due fails the exchange; from then on it allows nothing.
  const done = Buffer.concat([Buffer.of(0x43), randomBytes(64)]);
  assert.throws(() => client.receive(done), unexpected('expected pair_reply, got message type 0x43'));
  assert.throws(() => client.receive(done), unexpected('PAIR_DONE in state over'));
});

test('bytes of the wrong type for the state keep the codec detail the server sends in its ERROR', () => {
  const code = generatePairingCode();
  const server = new PairingServer({ ...leg(), secret: code.secret });
  assert.throws(
    () => server.receive(Buffer.concat([Buffer.of(0x42), randomBytes(64)])),
    unexpected('expected pair_hello, got message type 0x42'),
  );
});
