// `ferry serve --coordination etcd://HOST:PORT[/PREFIX]`: what the flag accepts and refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_COORDINATION_PREFIX,
  admissionFromFlags,
  ownershipFromFlags,
  parseCoordination,
} from '../../src/cli/coordination-flags.js';
import { ClusterAdmission, EtcdTransferOwnership } from '../../src/index.js';

test('etcd://HOST:PORT[/PREFIX] names the client URL and the key prefix (default ferry/)', () => {
  assert.deepEqual(parseCoordination('etcd://127.0.0.1:2379'), {
    endpoint: 'http://127.0.0.1:2379',
    prefix: DEFAULT_COORDINATION_PREFIX,
  });
  assert.deepEqual(parseCoordination('etcd://[::1]:2379/team/a'), {
    endpoint: 'http://[::1]:2379',
    prefix: 'team/a/',
  });
  assert.deepEqual(parseCoordination('etcd://etcd.internal:2379/c1/'), {
    endpoint: 'http://etcd.internal:2379',
    prefix: 'c1/',
  });
  for (const bad of [
    'http://127.0.0.1:2379',
    'etcd://127.0.0.1',
    'etcd://user:pw@127.0.0.1:2379',
    'etcd://127.0.0.1:2379/a?b=c',
    'etcd://127.0.0.1:2379/a//b',
    '127.0.0.1:2379',
  ])
    assert.throws(() => parseCoordination(bad), { code: 'USAGE_INVALID' }, bad);
});

test('transfers are handed over through etcd only with --store too; admission is shared with --coordination alone', () => {
  assert.equal(ownershipFromFlags({}), undefined);
  assert.equal(ownershipFromFlags({ store: 's3://bucket/p' }), undefined);
  // Servers without a shared store share no transfers, only who may connect.
  assert.equal(ownershipFromFlags({ coordination: 'etcd://127.0.0.1:2379' }), undefined);
  assert.equal(admissionFromFlags({}), undefined);
  const admission = admissionFromFlags({ coordination: 'etcd://127.0.0.1:2379' });
  assert.ok(admission instanceof ClusterAdmission);
  admission.close();
  // Nothing is asked of etcd until the first claim: building it needs no running etcd.
  const ownership = ownershipFromFlags({ coordination: 'etcd://127.0.0.1:2379/x', store: 's3://bucket/p' });
  assert.ok(ownership instanceof EtcdTransferOwnership);
});
