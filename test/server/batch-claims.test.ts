import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchClaims } from '../../src/server/batch-claims.js';

/** A BatchClaims whose registry releases are recorded. */
function claims(): { claims: BatchClaims; released: string[] } {
  const released: string[] = [];
  return { claims: new BatchClaims((transferId) => released.push(transferId)), released };
}

test('BatchClaims lets go at once of an entry not placing yet and remembers it was taken over', async () => {
  const { claims: c, released } = claims();
  c.claimed('a');
  await c.surrender('a');
  assert.deepEqual(released, ['a']);
  assert.equal(c.tookOver('a'), true);
  assert.equal(c.tookOver('a'), false, 'asked once, then forgotten');
});

test('BatchClaims makes a newer claim on a placing entry wait for its placement', async () => {
  const { claims: c, released } = claims();
  let placed = (): void => undefined;
  const placement = new Promise<void>((resolve) => (placed = resolve));
  c.claimed('a');
  c.placing('a', placement);
  let done = false;
  const surrendered = c.surrender('a').then(() => (done = true));
  await Promise.resolve();
  assert.equal(done, false);
  assert.deepEqual(released, [], 'a placing entry keeps its claim until its batch is released');
  assert.equal(c.tookOver('a'), false);
  placed();
  await surrendered;
  c.released(['a'], placement);
  assert.deepEqual(released, ['a']);
});

test('BatchClaims ignores a surrender of an entry it does not hold', async () => {
  const { claims: c, released } = claims();
  await c.surrender('never');
  assert.deepEqual(released, []);
  assert.equal(c.tookOver('never'), false);
});

test("BatchClaims releases a batch's own claims, not one a later batch of the session placed meanwhile", () => {
  const { claims: c, released } = claims();
  const first = Promise.resolve();
  const second = Promise.resolve();
  c.claimed('a');
  c.claimed('b');
  c.placing('a', first);
  c.placing('b', second); // a later batch re-sent b and is placing it
  c.released(['a', 'b'], first);
  assert.deepEqual(released, ['a']);
  c.released(['b'], second);
  assert.deepEqual(released, ['a', 'b']);
});

test('BatchClaims forgets a takeover when the batch of the entry is released', async () => {
  const { claims: c, released } = claims();
  c.claimed('a');
  await c.surrender('a');
  // The registry ignores the second release: it releases only a claim the releasing session holds.
  c.released(['a'], Promise.resolve());
  assert.deepEqual(released, ['a', 'a']);
  assert.equal(c.tookOver('a'), false);
});
