// The directory-entry machine (PROTOCOL.md §5.10, §6.6) driven with message bytes only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFerryError } from '../../src/errors/index.js';
import { EntryRequest, type EntryState } from '../../src/machines/index.js';
import { decodeMessage, encodeMessage, type Message } from '../../src/protocol/index.js';

const REF = 9;
const wire = (message: Message): Message => decodeMessage(encodeMessage(message));
const ack = wire({ type: 'ACK', ref: REF });
const putDir = { type: 'PUT_DIR', ref: REF, mode: 0o755, mtimeMs: 1_600_000_000_000, path: 'a/b' } as const;
const putLink = {
  type: 'PUT_LINK',
  ref: REF,
  overwrite: false,
  mtimeMs: 1_600_000_000_000,
  target: '../c',
  path: 'a/l',
} as const;

const unexpected =
  (event: string, state: EntryState) =>
  (err: unknown): boolean =>
    isFerryError(err, 'MESSAGE_UNEXPECTED') && err.detail === `${event} in state ${state}`;

test('`EntryRequest` sends one PUT_DIR or PUT_LINK, unchanged, and is done on its ACK', () => {
  for (const request of [putDir, putLink]) {
    const entry = new EntryRequest();
    assert.deepEqual(wire(entry.request(request)), request);
    assert.equal(entry.state, 'requested');
    entry.receive(ack);
    assert.equal(entry.state, 'done');
  }
});

test('`EntryRequest` refuses anything but one ACK after one request with MESSAGE_UNEXPECTED (§6.6)', () => {
  assert.throws(() => new EntryRequest().receive(ack), unexpected('ACK', 'idle'));
  const entry = new EntryRequest();
  entry.request(putDir);
  assert.throws(() => entry.request(putLink), unexpected('PUT_LINK', 'requested'));
  assert.throws(
    () =>
      entry.receive(
        wire({ type: 'LIST_END', ref: REF, totalEntries: 0, isFile: false, mode: 0, mtimeMs: 0 }),
      ),
    unexpected('LIST_END', 'requested'),
  );
  entry.receive(ack);
  assert.throws(() => entry.receive(ack), unexpected('ACK', 'done'));
});
