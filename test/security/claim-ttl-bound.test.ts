// `ferry serve --claim-ttl` and `EtcdOwnershipOptions.ttlSeconds` have an upper bound: a takeover re-asks etcd
// after a TTL (`setTimeout`), and node runs a timer longer than 2^31 - 1 ms after 1 ms instead, so a TTL past
// 24.8 days had every waiting takeover re-ask without pause (docs/SECURITY.md, stop 35 second round).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClaimTtl } from '../../src/cli/serve-coordination-flags.js';
import { EtcdGateway, EtcdTransferOwnership, MAX_CLAIM_TTL_SECONDS } from '../../src/server/index.js';

/** The longest delay node's timers keep (longer ones fire after 1 ms). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

test('--claim-ttl and ttlSeconds refuse a TTL that node timers cannot wait', () => {
  assert.ok(MAX_CLAIM_TTL_SECONDS * 1000 <= LONGEST_TIMER_MS);
  assert.equal(parseClaimTtl('24d'), MAX_CLAIM_TTL_SECONDS);
  for (const text of ['25d', '100d', `${MAX_CLAIM_TTL_SECONDS + 1}s`])
    assert.throws(() => parseClaimTtl(text), { code: 'USAGE_INVALID', message: /to 24d/ }, text);
  const etcd = new EtcdGateway('http://127.0.0.1:2379');
  assert.ok(new EtcdTransferOwnership(etcd, { prefix: 'x/', ttlSeconds: MAX_CLAIM_TTL_SECONDS }));
  assert.throws(
    () => new EtcdTransferOwnership(etcd, { prefix: 'x/', ttlSeconds: Math.ceil(LONGEST_TIMER_MS / 1000) }),
    RangeError,
  );
});
