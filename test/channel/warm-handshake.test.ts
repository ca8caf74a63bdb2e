import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WARM_HANDSHAKE_ROUNDS, warmHandshake } from '../../src/channel/index.js';

test('warmHandshake runs the whole handshake and a record each way, once per round', () => {
  const took = warmHandshake();
  assert.equal(took.length, WARM_HANDSHAKE_ROUNDS);
  for (const ms of took) assert.ok(Number.isFinite(ms) && ms >= 0, `round took ${ms} ms`);
  assert.deepEqual(warmHandshake(1).length, 1);
  assert.deepEqual(warmHandshake(0), []);
});
