// A cluster's allow-list in a real etcd 3.4 (docs/ARCHITECTURE.md, "Coordination"): updates through two
// servers at once all land (compare-and-swap), a change through one is seen by the other's watch, and with
// etcd unreachable admission fails closed (SERVER_BUSY) until it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { formatFerryId, generateKeyPair } from '../../src/crypto/index.js';
import { EtcdAllowList, EtcdGateway, allowListAuthorize } from '../../src/server/index.js';
import type { AllowedClient } from '../../src/home/index.js';
import { useEtcdNode } from '../helpers/etcd-node.js';

const etcd = useEtcdNode();

function serverList(prefix: string): EtcdAllowList {
  return new EtcdAllowList(new EtcdGateway(etcd().endpoint), prefix);
}

function entry(publicKey: Uint8Array): AllowedClient {
  return { id: formatFerryId(publicKey), permissions: ['upload'], addedAt: new Date(0).toISOString() };
}

test('updates through two servers at once: none is lost', async (t) => {
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  const [a, b] = [serverList(prefix), serverList(prefix)];
  t.after(() => {
    a.close();
    b.close();
  });
  const keys = Array.from({ length: 16 }, () => generateKeyPair().publicKey);
  await Promise.all(
    keys.map((key, i) => (i % 2 === 0 ? a : b).update((clients) => [...clients, entry(key)])),
  );
  const final = await serverList(prefix).current();
  assert.equal(final.clients.length, keys.length, 'every concurrent allow landed');
  for (const key of keys) assert.ok(final.find(key), 'each key is on the list');
});

test('allowed through A admits on B; revoked through B refuses on A (each watches the key)', async (t) => {
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  const [a, b] = [serverList(prefix), serverList(prefix)];
  t.after(() => {
    a.close();
    b.close();
  });
  const key = generateKeyPair().publicKey;
  const authorizeA = allowListAuthorize(a);
  const authorizeB = allowListAuthorize(b);
  assert.equal(await authorizeB(key), undefined, 'nobody is allowed at first');
  const bSees = once(b.events, 'change');
  await a.update((clients) => [...clients, entry(key)]);
  await bSees;
  assert.ok((await authorizeB(key)) !== undefined, 'B admits the key allowed through A');
  assert.ok((await authorizeA(key)) !== undefined, 'and A, through which it was allowed');
  const aSees = once(a.events, 'change');
  await b.update((clients) => clients.filter((c) => c.id !== formatFerryId(key)));
  await aSees;
  assert.equal(await authorizeA(key), undefined, 'A refuses the key revoked through B');
});

test('etcd briefly unreachable: admission fails closed with SERVER_BUSY, and works again once it is back', async (t) => {
  const node = etcd();
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  const a = serverList(prefix);
  t.after(async () => {
    await node.resume();
    a.close();
  });
  const key = generateKeyPair().publicKey;
  await a.update((clients) => [...clients, entry(key)]);
  assert.ok(await allowListAuthorize(a)(key));
  const unwatched = once(a.events, 'unwatched');
  await node.pause();
  // Once the watch is known broken, nothing is admitted from a list that may have changed meanwhile.
  await unwatched;
  await assert.rejects(async () => allowListAuthorize(a)(key), { code: 'SERVER_BUSY' });
  await node.resume();
  assert.ok(await allowListAuthorize(a)(key), 'admitted again once etcd answers');
});
