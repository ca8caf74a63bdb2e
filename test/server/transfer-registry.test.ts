import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransferRegistry, type TransferClaim } from '../../src/server/transfer-registry.js';

/** A holder that records its surrenders and lets go at once, as a transfer not yet writing does. */
function holder(sessionSeq: number, registry: TransferRegistry, surrendered: number[]): TransferClaim {
  const claim: TransferClaim = {
    sessionSeq,
    surrender: (transferId) => {
      surrendered.push(sessionSeq);
      registry.release(transferId, claim);
      return Promise.resolve();
    },
    joinTargetOf: () => undefined,
  };
  return claim;
}

test('a newer session takes a transfer over; an older one never takes it back (PROTOCOL.md §6.2)', async () => {
  const registry = new TransferRegistry();
  const surrendered: number[] = [];
  const [first, second, third] = [1, 2, 3].map((n) => holder(n, registry, surrendered));
  await registry.claim('t', first!);
  await registry.claim('t', second!);
  assert.deepEqual(surrendered, [1], 'session 2 took it from session 1');
  // Session 1 (cut, still settling what it received) claims again: refused, session 2 keeps it.
  await assert.rejects(registry.claim('t', first!), { code: 'TRANSFER_TAKEN_OVER' });
  assert.deepEqual(surrendered, [1], 'session 2 was not asked to let go');
  await registry.claim('t', third!);
  assert.deepEqual(surrendered, [1, 2], 'session 3 took it from session 2');
});

test('holders without a session number (0) keep the claim-order rule', async () => {
  const registry = new TransferRegistry();
  const surrendered: number[] = [];
  const [a, b] = [0, 0].map((n) => holder(n, registry, surrendered));
  await registry.claim('t', a!);
  await registry.claim('t', b!);
  assert.deepEqual(surrendered, [0]);
});
