import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import { PartMemory } from '../../src/server/part-memory.js';

test('a hold takes its floor at once or is refused with SERVER_BUSY, per client and in total', () => {
  const memory = new PartMemory({ perClientBytes: 10, totalBytes: 15 });
  const a = memory.hold('a', 6);
  assert.throws(
    () => memory.hold('a', 5),
    (err: FerryError) => err.code === 'SERVER_BUSY',
  );
  const b = memory.hold('b', 9);
  assert.throws(
    () => memory.hold('c', 1),
    (err: FerryError) => err.code === 'SERVER_BUSY',
  );
  assert.equal(memory.heldBytes, 15);
  a.release();
  a.release();
  assert.equal(memory.heldBytes, 9);
  memory.hold('c', 6).release();
  b.release();
  assert.equal(memory.heldBytes, 0);
  assert.equal(memory.peakBytes, 15);
});

test('a hold grows only when the bytes fit now, shrinks never below its floor, and release gives all back', () => {
  const memory = new PartMemory({ perClientBytes: 10, totalBytes: 10 });
  const hold = memory.hold('a', 4);
  assert.equal(hold.grow(4), true);
  assert.equal(hold.grow(4), false, 'past the limit: refused, not waited for');
  assert.equal(memory.heldBytes, 8);
  hold.shrink(100);
  assert.equal(memory.heldBytes, 4, 'the floor stays');
  assert.equal(hold.grow(6), true);
  hold.release();
  assert.equal(memory.heldBytes, 0);
  assert.equal(hold.grow(1), false, 'a released hold takes nothing');
  assert.equal(memory.heldBytes, 0);
});
