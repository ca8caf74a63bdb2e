// `ReceiveBudget`: a stream's received data counted against its memory (docs/SECURITY.md "Upload memory").
// Data that finds no memory is taken all the same and the stream is starved until its own data comes back;
// its writers are asked to write what they gather; the end of the stream gives everything back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceiveBudget, noneCounted, type ReceiveMemory } from '../../src/channel/receive-budget.js';
import {
  MESSAGE_TYPE_CODES,
  PUT_DATA_HEADER_BYTES,
  claimReceived,
  holdReceived,
  leaseReceived,
  releaseReceived,
  sealReceived,
  settleReceived,
} from '../../src/protocol/index.js';

/** A memory of `bytes`, as `PartHold` gives it: never waiting. */
function memoryOf(bytes: number): ReceiveMemory & { held: number; released: boolean } {
  const memory = {
    held: 0,
    released: false,
    grow: (n: number) => {
      if (memory.held + n > bytes) return false;
      memory.held += n;
      return true;
    },
    shrink: (n: number) => {
      memory.held -= n;
    },
    release: () => {
      memory.released = true;
      memory.held = 0;
    },
  };
  return memory;
}

test('`ReceiveBudget` counts written pages, starves past its memory, and is fed once its own data is back', () => {
  const memory = memoryOf(8192);
  let fed = 0;
  const budget = new ReceiveBudget(memory, () => (fed += 1));
  const first = noneCounted();
  budget.charge(first, 100);
  assert.equal(memory.held, 4096, 'a page for 100 bytes');
  budget.charge(first, 4097);
  assert.equal(memory.held, 8192, 'the next page as the piece grows');
  assert.equal(budget.starved, false);
  const second = noneCounted();
  budget.charge(second, 10);
  assert.equal(budget.starved, true, 'no memory left: taken, unpaid');
  assert.equal(memory.held, 8192);
  budget.giveBack(first);
  assert.equal(fed, 0, 'still holding bytes it could not pay for');
  assert.equal(memory.held, 0);
  budget.giveBack(second);
  assert.equal(budget.starved, false);
  assert.equal(fed, 1);
  budget.giveBack(second);
  assert.equal(fed, 1, 'given back once');
});

test('`ReceiveBudget` asks the writers of its leased data to write now once starved', () => {
  const budget = new ReceiveBudget(memoryOf(4096), () => undefined);
  const block = new ArrayBuffer(1024);
  leaseReceived(block, () => undefined);
  holdReceived(block, 0, 100);
  sealReceived(block);
  budget.charge(noneCounted(), 100);
  budget.leased(block);
  let letGo = 0;
  claimReceived(Buffer.from(block, 0, 100), () => (letGo += 1));
  budget.charge(noneCounted(), 100);
  assert.equal(letGo, 1, 'its batch is written without waiting for data not read');
});

test('`ReceiveBudget.stop` gives all back at once, and what comes back later changes nothing', () => {
  const memory = memoryOf(4096);
  const budget = new ReceiveBudget(memory, () => assert.fail('fed after the stream ended'));
  const count = noneCounted();
  budget.charge(count, 4096);
  budget.charge(noneCounted(), 1);
  budget.stop();
  assert.equal(memory.released, true);
  budget.giveBack(count);
  assert.equal(memory.held, 0);
});

test('`ReceiveBudget.countOpened` counts a tiny data record of node`s pool slab in a copy of its own', () => {
  const memory = memoryOf(8192);
  const budget = new ReceiveBudget(memory, () => undefined);
  // A record of 23 bytes is a view of a shared 8 KiB slab: leasing the slab would tie it to strangers.
  const record = Buffer.allocUnsafe(PUT_DATA_HEADER_BYTES + 10).fill(7);
  record[0] = MESSAGE_TYPE_CODES.PUT_DATA;
  assert.notEqual(record.buffer.byteLength, record.length, 'a view of the pool');
  const counted = budget.countOpened(record);
  assert.equal(counted.buffer.byteLength, counted.length, 'a buffer of its own');
  assert.deepEqual(counted, record);
  assert.equal(memory.held, 4096, 'counted (a page)');
  releaseReceived(counted.subarray(PUT_DATA_HEADER_BYTES)); // its writer wrote it
  assert.equal(memory.held, 0);
  // Dropped by its handler instead: given back when the message was handled.
  const dropped = budget.countOpened(Buffer.from(record));
  assert.equal(memory.held, 4096);
  settleReceived(dropped.subarray(PUT_DATA_HEADER_BYTES));
  assert.equal(memory.held, 0);
  // Anything but file data is the messages' handlers' and not counted.
  const other = Buffer.alloc(20, 1);
  assert.equal(budget.countOpened(other), other);
  assert.equal(memory.held, 0);
});

test('`ReceiveBudget` asks the writers of records it opened to write now once starved, until they released them', () => {
  const memory = memoryOf(8192);
  const budget = new ReceiveBudget(memory, () => undefined);
  /** A data record of `bytes` in a buffer of its own, as a record opened on the event loop is. */
  const record = (bytes: number): Buffer => {
    const opened = Buffer.alloc(bytes, 7);
    opened[0] = MESSAGE_TYPE_CODES.PUT_DATA;
    return budget.countOpened(opened);
  };
  let written = 0;
  let lateWritten = 0;
  const first = record(4096).subarray(PUT_DATA_HEADER_BYTES);
  assert.equal(
    claimReceived(first, () => (written += 1)),
    false,
    'not starved: the writer gathers',
  );
  const released = record(4096).subarray(PUT_DATA_HEADER_BYTES);
  claimReceived(released, () => (lateWritten += 1));
  releaseReceived(released); // its writer wrote it: no longer its claimer
  record(4096); // two pages counted: the memory is spent
  record(4096); // past it: starved
  assert.equal(budget.starved, true);
  assert.equal(written, 1, 'its batch is written without waiting for data not read');
  assert.equal(lateWritten, 0, 'a writer that released its data is not asked');
  assert.equal(
    claimReceived(record(4096).subarray(PUT_DATA_HEADER_BYTES), () => undefined),
    true,
    'write now',
  );
});
