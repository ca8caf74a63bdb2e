// Leases on reused receive blocks (issue 14): a block comes back only once it is sealed and every file-data
// region it handed out was released whole, exactly once; anything else keeps it from ever being reused.
// Either way the lease ends once (its receiver counts the block's memory until then: "Upload memory"), and
// a region no holder claimed is released when its message was handled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  claimReceived,
  holdReceived,
  leaseReceived,
  releaseReceived,
  sealReceived,
  settleReceived,
  wantReceived,
} from '../../src/protocol/index.js';

/** A block leased with `regions` held, sealed unless `open`. */
function leased(
  regions: Array<[number, number]>,
  open = false,
): { block: ArrayBuffer; freed: () => number; lost: () => number } {
  const block = new ArrayBuffer(1024);
  let freed = 0;
  let lost = 0;
  leaseReceived(block, (reusable) => (reusable ? (freed += 1) : (lost += 1)));
  for (const [start, length] of regions) holdReceived(block, start, length);
  if (!open) sealReceived(block);
  return { block, freed: () => freed, lost: () => lost };
}

test('`releaseReceived` frees a block once each of its regions was released whole, in any order', () => {
  const { block, freed } = leased([
    [13, 100],
    [129, 200],
    [400, 50],
  ]);
  releaseReceived(Buffer.from(block, 400, 50));
  releaseReceived(Buffer.from(block, 13, 100));
  assert.equal(freed(), 0, 'one region is still held');
  releaseReceived(Buffer.from(block, 129, 200));
  assert.equal(freed(), 1);
  // Released again after it came back: the lease is gone, nothing happens twice.
  releaseReceived(Buffer.from(block, 129, 200));
  assert.equal(freed(), 1);
});

test('`releaseReceived` of a part of a region ends the lease: the block is never reused', () => {
  const { block, freed, lost } = leased([
    [0, 100],
    [100, 100],
  ]);
  releaseReceived(Buffer.from(block, 0, 50)); // a piece written on its own
  releaseReceived(Buffer.from(block, 50, 50));
  releaseReceived(Buffer.from(block, 100, 100));
  assert.equal(freed(), 0);
  assert.equal(lost(), 1, 'the lease ended once, not reusable');
});

test('`releaseReceived` of a region twice ends the lease before it could free the block early', () => {
  const { block, freed, lost } = leased([
    [0, 100],
    [100, 100],
  ]);
  const view = Buffer.from(block, 0, 100);
  releaseReceived(view);
  releaseReceived(view); // a second write of the same bytes would still be in flight
  releaseReceived(Buffer.from(block, 100, 100));
  assert.equal(freed(), 0);
  assert.equal(lost(), 1);
});

test('a lease still open is not freed though all its regions were released; sealing it then frees it', () => {
  const { block, freed } = leased([[0, 100]], true);
  releaseReceived(Buffer.from(block, 0, 100)); // written before the block was full
  assert.equal(freed(), 0, 'more records may still go into it');
  holdReceived(block, 100, 50);
  sealReceived(block);
  assert.equal(freed(), 0);
  releaseReceived(Buffer.from(block, 100, 50));
  assert.equal(freed(), 1);
});

test('memory never leased ignores releases', () => {
  releaseReceived(Buffer.alloc(64));
  releaseReceived(Buffer.from(new ArrayBuffer(100), 0, 50));
});

test('`settleReceived` releases a region nobody claimed (data copied or dropped), not one a writer claimed', () => {
  const { block, freed } = leased([
    [0, 100],
    [100, 100],
  ]);
  const dropped = Buffer.from(block, 0, 100);
  const kept = Buffer.from(block, 100, 100);
  assert.equal(
    claimReceived(kept, () => undefined),
    false,
  );
  settleReceived(dropped);
  settleReceived(kept);
  assert.equal(freed(), 0, 'the claimed region is still held');
  releaseReceived(kept); // written
  assert.equal(freed(), 1);
});

test('`claimReceived` of a part of a region claims the region; settling the part then releases nothing', () => {
  const { block, freed } = leased([[0, 100]]);
  const part = Buffer.from(block, 10, 50);
  claimReceived(part, () => undefined);
  settleReceived(part);
  assert.equal(freed(), 0, 'its holder may still be writing it');
});

test('`wantReceived` asks each claimer to write now, and tells later claims', () => {
  const { block } = leased([
    [0, 100],
    [100, 100],
  ]);
  let letGo = 0;
  assert.equal(
    claimReceived(Buffer.from(block, 0, 100), () => (letGo += 1)),
    false,
  );
  wantReceived(block);
  assert.equal(letGo, 1);
  wantReceived(block);
  assert.equal(letGo, 1, 'asked once');
  assert.equal(
    claimReceived(Buffer.from(block, 100, 100), () => undefined),
    true,
  );
});
