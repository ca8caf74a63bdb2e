// `ferry serve --coordination etcd://HOST:PORT[/PREFIX]` and `--claim-ttl`: what the flags accept and refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_COORDINATION_PREFIX, parseCoordination } from '../../src/cli/coordination-flags.js';
import {
  CLAIM_TTL_DEFAULT,
  admissionFromFlags,
  ownershipFromFlags,
  parseClaimTtl,
  refuseClaimTtlAlone,
} from '../../src/cli/serve-coordination-flags.js';
import { isFerryError } from '../../src/errors/index.js';
import {
  ClusterAdmission,
  DEFAULT_CLAIM_TTL_SECONDS,
  EtcdGateway,
  EtcdTransferOwnership,
  MIN_CLAIM_TTL_SECONDS,
} from '../../src/index.js';

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

test('--claim-ttl takes whole seconds from 2s (etcd leases count in seconds) and defaults to the library', () => {
  assert.equal(parseClaimTtl('5s'), 5);
  assert.equal(parseClaimTtl('2m'), 120);
  assert.equal(parseClaimTtl(CLAIM_TTL_DEFAULT), DEFAULT_CLAIM_TTL_SECONDS);
  assert.equal(parseClaimTtl(`${MIN_CLAIM_TTL_SECONDS}s`), MIN_CLAIM_TTL_SECONDS);
  for (const bad of ['1s', '1500ms', '2500ms', '5', '0s', 'soon'])
    assert.throws(() => parseClaimTtl(bad), { code: 'USAGE_INVALID' }, bad);
  // The library refuses what etcd would silently lengthen, whoever builds it.
  assert.throws(
    () =>
      new EtcdTransferOwnership(new EtcdGateway('http://127.0.0.1:2379'), { prefix: 'x/', ttlSeconds: 1 }),
    RangeError,
  );
  assert.ok(
    ownershipFromFlags({
      coordination: 'etcd://127.0.0.1:2379/x',
      store: 's3://b/p',
      claimTtl: '3s',
    }) instanceof EtcdTransferOwnership,
  );
  assert.throws(
    () => ownershipFromFlags({ coordination: 'etcd://127.0.0.1:2379/x', store: 's3://b/p', claimTtl: '1s' }),
    { code: 'USAGE_INVALID' },
  );
});

test('refuseClaimTtlAlone refuses a --claim-ttl given to a server that claims no transfers, and lets its default pass', () => {
  const refused = (flags: { coordination?: string; store?: string }, source: string, text: RegExp): void =>
    assert.throws(
      () => refuseClaimTtlAlone(flags, source),
      (err) => isFerryError(err, 'USAGE_INVALID') && text.test(err.message),
    );
  for (const source of ['cli', 'env', 'config']) {
    refused({}, source, /--claim-ttl needs --coordination and --store/);
    refused({ coordination: 'etcd://127.0.0.1:2379' }, source, /--claim-ttl needs --store too/);
  }
  refuseClaimTtlAlone({}, 'default');
  refuseClaimTtlAlone({}, undefined);
  refuseClaimTtlAlone({ coordination: 'etcd://127.0.0.1:2379', store: 's3://b/p' }, 'cli');
});
