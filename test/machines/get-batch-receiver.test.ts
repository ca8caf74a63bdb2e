// The client's rules for the answer to a GET_BATCH (PROTOCOL.md §5.20, §6.12), driven by message bytes: every
// message is encoded and decoded by the real codecs before the machine sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFerryError } from '../../src/errors/index.js';
import { decodeMessage, encodeMessage, type GetBatchEntry, type Message } from '../../src/protocol/index.js';
import { GET_BATCH_RECEIVER_TRANSITIONS, GetBatchReceiver, stepOf } from '../../src/machines/index.js';

function fromBytes(message: Message): Message {
  return decodeMessage(encodeMessage(message));
}

const file = (text: string): GetBatchEntry => ({
  status: 'file',
  mtimeMs: 1000,
  mode: 0o644,
  fileDigest: Buffer.alloc(32, 1),
  data: Buffer.from(text),
});
const data = (ref: number, entries: GetBatchEntry[]): Message =>
  fromBytes({ type: 'GET_BATCH_DATA', ref, entries });

test('GetBatchReceiver places each record’s entries at the next paths, in order, and is answered at the last', () => {
  const receiver = new GetBatchReceiver(4);
  const first = receiver.receive(data(1, [file('a'), { status: 'refused', code: 0x13 }]));
  assert.equal(first.first, 0);
  assert.deepEqual(
    first.entries.map((e) => e.status),
    ['file', 'refused'],
  );
  assert.equal(receiver.state, 'receiving');
  const second = receiver.receive(data(1, [file('c'), file('d')]));
  assert.equal(second.first, 2);
  assert.equal(second.entries[1]!.status === 'file' && second.entries[1]!.data.toString(), 'd');
  assert.equal(receiver.state, 'answered');
  assert.equal(receiver.answered, 4);
});

test('GetBatchReceiver refuses an answer past the last path (MESSAGE_MALFORMED) and anything after it is answered', () => {
  const receiver = new GetBatchReceiver(2);
  receiver.receive(data(1, [file('a')]));
  assert.throws(
    () => receiver.receive(data(1, [file('b'), file('c')])),
    (err: unknown) =>
      isFerryError(err, 'MESSAGE_MALFORMED') && /answers 3 paths of a request for 2/.test(err.message),
  );
  const answered = new GetBatchReceiver(1);
  answered.receive(data(1, [file('a')]));
  assert.throws(
    () => answered.receive(data(1, [file('b')])),
    (err: unknown) => isFerryError(err, 'MESSAGE_UNEXPECTED'),
  );
});

test('GetBatchReceiver refuses any other message of the ref (MESSAGE_UNEXPECTED)', () => {
  const receiver = new GetBatchReceiver(2);
  assert.throws(
    () => receiver.receive(fromBytes({ type: 'GET_END', ref: 1, fileDigest: Buffer.alloc(32) })),
    (err: unknown) =>
      isFerryError(err, 'MESSAGE_UNEXPECTED') && /GET_END answering a GET_BATCH/.test(err.message),
  );
});

test('GetBatchReceiver ends on an ERROR for the ref with the rest unanswered, and takes nothing after it', () => {
  const receiver = new GetBatchReceiver(3);
  receiver.receive(data(1, [file('a')]));
  receiver.refused();
  assert.equal(receiver.state, 'refused');
  assert.equal(receiver.answered, 1);
  assert.throws(
    () => receiver.receive(data(1, [file('b')])),
    (err: unknown) => isFerryError(err, 'MESSAGE_UNEXPECTED'),
  );
  assert.throws(
    () => receiver.refused(),
    (err: unknown) => isFerryError(err, 'MESSAGE_UNEXPECTED'),
  );
});

test('GET_BATCH_RECEIVER_TRANSITIONS has one row per state and event, and every next state is a state of the table or closed', () => {
  const states = new Set(['receiving', 'answered', 'refused', 'closed']);
  for (const row of GET_BATCH_RECEIVER_TRANSITIONS) {
    assert.equal(stepOf(GET_BATCH_RECEIVER_TRANSITIONS, row.state, row.event), row);
    assert.ok(states.has(row.next), row.next);
  }
});
