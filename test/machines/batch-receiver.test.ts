// The batch exchange on the server (PROTOCOL.md §5.14, §6.9) as a pure machine, fed decoded bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  BATCH_RECEIVER_TRANSITIONS,
  BatchReceiver,
  MAX_BATCHES_IN_FLIGHT,
} from '../../src/machines/index.js';
import {
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  decodeMessage,
  encodeMessage,
  smallFileDigest,
  type BatchEntry,
  type BatchEndMessage,
  type PutBatchMessage,
} from '../../src/protocol/index.js';
import { assertFerryCode } from '../protocol/message-assertions.js';

const CHUNK = 65536;

function entry(path: string, size = 3): BatchEntry {
  const data = Buffer.alloc(size, 0x61);
  return { size, mtimeMs: 1, mode: 0o644, fileDigest: smallFileDigest(data, CHUNK), path, data };
}

/** A PUT_BATCH as the server reads it: encoded, then decoded. */
function batch(ref: number, entries: BatchEntry[], overwrite = false, chunkBytes = CHUNK): PutBatchMessage {
  return decodeMessage(
    encodeMessage({ type: 'PUT_BATCH', ref, overwrite, chunkBytes, entries }),
  ) as PutBatchMessage;
}

function end(ref: number, totalEntries: number): BatchEndMessage {
  return decodeMessage(encodeMessage({ type: 'BATCH_END', ref, totalEntries })) as BatchEndMessage;
}

test('BatchReceiver gathers a batch over several records and hands it over whole at BATCH_END', () => {
  const machine = new BatchReceiver();
  machine.receive(batch(5, [entry('a'), entry('b')]));
  assert.equal(machine.state, 'receiving');
  machine.receive(batch(5, [entry('c')]));
  const received = machine.end(end(5, 3));
  assert.equal(machine.state, 'idle');
  assert.deepEqual(
    received.entries.map((e) => e.path),
    ['a', 'b', 'c'],
  );
  assert.equal(received.chunkBytes, CHUNK);
  const done = machine.settled(5, [
    { status: 'placed' },
    { status: 'identical' },
    { status: 'refused', code: 9 },
  ]);
  // The answer is a valid BATCH_DONE on the wire.
  assert.deepEqual(decodeMessage(encodeMessage(done)), done);
  assert.equal(machine.inFlight, 0);
});

test('BatchReceiver refuses a BATCH_END whose count differs, and one with no batch open', () => {
  const machine = new BatchReceiver();
  machine.receive(batch(5, [entry('a')]));
  assertFerryCode(() => machine.end(end(5, 2)), 'MESSAGE_MALFORMED');
  assertFerryCode(() => new BatchReceiver().end(end(5, 1)), 'MESSAGE_UNEXPECTED');
});

test('BatchReceiver refuses a PUT_BATCH of another ref while one is open (MESSAGE_UNEXPECTED)', () => {
  const machine = new BatchReceiver();
  machine.receive(batch(5, [entry('a')]));
  assertFerryCode(() => machine.receive(batch(6, [entry('b')])), 'MESSAGE_UNEXPECTED');
});

test('BatchReceiver refuses a record that changes OVERWRITE or chunkBytes, or repeats a path', () => {
  for (const second of [
    batch(5, [entry('b')], true),
    batch(5, [entry('b')], false, CHUNK * 2),
    batch(5, [entry('a')]),
  ]) {
    const machine = new BatchReceiver();
    machine.receive(batch(5, [entry('a')]));
    assertFerryCode(() => machine.receive(second), 'MESSAGE_MALFORMED');
  }
});

test('BatchReceiver bounds a batch: MAX_BATCH_ENTRIES entries and MAX_BATCH_DATA_BYTES of data', () => {
  const many = new BatchReceiver();
  for (let i = 0; i < MAX_BATCH_ENTRIES; i += 64)
    many.receive(
      batch(
        1,
        Array.from({ length: 64 }, (_, k) => entry(`f${i + k}`, 0)),
      ),
    );
  assertFerryCode(() => many.receive(batch(1, [entry('one-more', 0)])), 'MESSAGE_MALFORMED');

  const big = new BatchReceiver();
  const perRecord = 1;
  let sent = 0;
  for (let i = 0; sent + MAX_BATCH_FILE_BYTES <= MAX_BATCH_DATA_BYTES; i++) {
    big.receive(
      batch(
        1,
        Array.from({ length: perRecord }, () => entry(`b${i}`, MAX_BATCH_FILE_BYTES)),
      ),
    );
    sent += MAX_BATCH_FILE_BYTES;
  }
  // The rest of MAX_BATCH_DATA_BYTES (it need not be a multiple of MAX_BATCH_FILE_BYTES), then a byte more.
  if (sent < MAX_BATCH_DATA_BYTES) big.receive(batch(1, [entry('rest', MAX_BATCH_DATA_BYTES - sent)]));
  assertFerryCode(() => big.receive(batch(1, [entry('over', 1)])), 'MESSAGE_MALFORMED');
});

test(`BatchReceiver allows ${MAX_BATCHES_IN_FLIGHT} batches without BATCH_DONE and refuses the next (MESSAGE_UNEXPECTED)`, () => {
  const machine = new BatchReceiver();
  for (let ref = 1; ref <= MAX_BATCHES_IN_FLIGHT; ref++) {
    machine.receive(batch(ref, [entry('a')]));
    machine.end(end(ref, 1));
  }
  assert.equal(machine.inFlight, MAX_BATCHES_IN_FLIGHT);
  assertFerryCode(() => machine.receive(batch(99, [entry('a')])), 'MESSAGE_UNEXPECTED');
  // Once one is confirmed the next may come; a settled batch's ref cannot be settled twice.
  machine.settled(1, [{ status: 'placed' }]);
  machine.receive(batch(3, [entry('a')]));
  assertFerryCode(() => machine.settled(1, [{ status: 'placed' }]), 'INTERNAL');
});

test('BatchReceiver refuses a PUT_BATCH reusing the ref of a batch not yet confirmed', () => {
  const machine = new BatchReceiver();
  machine.receive(batch(1, [entry('a')]));
  machine.end(end(1, 1));
  assertFerryCode(() => machine.receive(batch(1, [entry('b')])), 'MESSAGE_UNEXPECTED');
});

test('BATCH_RECEIVER_TRANSITIONS has one row per state and event, and every next state is a state or closed', () => {
  const keys = BATCH_RECEIVER_TRANSITIONS.map((row) => `${row.state}|${row.event}`);
  assert.equal(new Set(keys).size, keys.length);
  const states = new Set<string>(BATCH_RECEIVER_TRANSITIONS.map((row) => row.state));
  for (const row of BATCH_RECEIVER_TRANSITIONS)
    assert.ok(states.has(row.next) || row.next === 'closed', row.next);
});
