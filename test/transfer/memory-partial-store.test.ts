// MemoryPartialStore: the port's conformance suite without a disk, and the durable-before-logged rule
// (PROTOCOL.md §9.2) shown through PartialTransfer with a simulated crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';
import { describePartialStore } from './partial-store-conformance.js';
import { chunkHashOf } from '../../src/protocol/index.js';

describePartialStore<string, string>(
  'MemoryPartialStore',
  () => {
    const store = new MemoryPartialStore<string>();
    return Promise.resolve({
      store,
      key: (name) => name,
      target: (name) => Promise.resolve(name),
      placeForeign: (target, bytes) => {
        store.placed.set(target, { bytes, mode: 0o644, mtimeMs: 0 });
        return Promise.resolve();
      },
      readTarget: (target) => Promise.resolve(store.placed.get(target)),
      crash: () => store.crash(),
      sweepable: store,
    });
  },
  { crash: true, list: true, closingRecord: true },
);

test('after a crash, a resumed PartialTransfer holds exactly the chunks onDurable had reported', async () => {
  const chunkBytes = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
  const content = randomBytes(4 * chunkBytes);
  const hashOf = (i: number): Buffer => chunkHashOf(content.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  const store = new MemoryPartialStore<string>();
  const reported: number[] = [];
  let wake: () => void = () => undefined;
  const options = {
    size: content.length,
    mtimeMs: 0,
    chunkBytes,
    fresh: false,
    durableBatchBytes: chunkBytes,
  };
  const partial = await PartialTransfer.open(store, 'k', {
    ...options,
    onDurable: (bytes) => {
      reported.push(bytes);
      wake();
    },
  });
  for (const index of [0, 1]) {
    const durable = new Promise<void>((resolve) => (wake = resolve));
    await partial.writeData(
      index * chunkBytes,
      content.subarray(index * chunkBytes, (index + 1) * chunkBytes),
    );
    partial.completeChunk(index, hashOf(index));
    await durable;
  }
  // Chunk 2 is verified, and its flush is queued but has not run when the power goes.
  await partial.writeData(2 * chunkBytes, content.subarray(2 * chunkBytes, 3 * chunkBytes));
  partial.completeChunk(2, hashOf(2));
  store.crash();
  await assert.rejects(partial.close(), { code: 'INTERNAL' }, 'the flush met a dead store');

  const resumed = await PartialTransfer.open(store, 'k', options);
  assert.deepEqual(reported, [chunkBytes, 2 * chunkBytes]);
  assert.equal(resumed.verifiedBytes, reported.at(-1), 'held is what was reported durable, no more');
  assert.deepEqual(resumed.heldRanges(), [{ first: 0, count: 2 }]);
  await resumed.close();
});
