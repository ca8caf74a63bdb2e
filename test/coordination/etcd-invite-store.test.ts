// A cluster's pairing invites in a real etcd 3.4 (docs/ARCHITECTURE.md, "Admission in a cluster"): created
// only under a fresh id, listed without secrets, taken once (read and delete in one transaction) however
// many servers ask at once, refused once expired, revocable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EtcdGateway, EtcdInviteStore } from '../../src/server/index.js';
import { useEtcdNode } from '../helpers/etcd-node.js';

const etcd = useEtcdNode();

function store(prefix: string): EtcdInviteStore {
  return new EtcdInviteStore(new EtcdGateway(etcd().endpoint), prefix);
}

test('an invite is taken exactly once when eight servers redeem it at once', async () => {
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  const { id } = await store(prefix).create({ name: 'laptop', permissions: ['upload'] });
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => store(prefix).consume(id)));
  const taken = outcomes.filter((o) => o.status === 'fulfilled');
  assert.equal(taken.length, 1, 'one server got the invite');
  const invite = (taken[0] as PromiseFulfilledResult<Awaited<ReturnType<EtcdInviteStore['consume']>>>).value;
  assert.equal(invite.name, 'laptop');
  assert.deepEqual(invite.permissions, ['upload']);
  assert.equal(invite.secret.length, 4, 'with its secret, for CPace');
  invite.dispose();
  for (const o of outcomes)
    if (o.status === 'rejected') assert.equal((o.reason as { code: string }).code, 'INVITE_INVALID');
  assert.deepEqual(await store(prefix).list(), []);
});

test('listed without secrets; revoked invites and expired ones cannot be redeemed', async () => {
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  const invites = store(prefix);
  const created = new Date('2030-01-01T00:00:00.000Z');
  const made = await invites.create({ ttlMs: 60_000, now: () => created });
  const other = await invites.create({ ttlMs: 60_000, now: () => created });
  const listed = await invites.list({ now: () => created });
  assert.deepEqual(listed.map((i) => i.id).sort(), [made.id, other.id].sort());
  assert.ok(!JSON.stringify(listed).includes('secret'), 'no secret in the listing');
  assert.equal(await invites.revoke(other.id), true);
  assert.equal(await invites.revoke(other.id), false, 'gone already');
  await assert.rejects(invites.consume(other.id, { now: () => created }), { code: 'INVITE_INVALID' });
  const later = new Date(created.getTime() + 60_000);
  await assert.rejects(invites.consume(made.id, { now: () => later }), { code: 'INVITE_EXPIRED' });
  await assert.rejects(invites.consume(made.id, { now: () => created }), { code: 'INVITE_INVALID' });
});
