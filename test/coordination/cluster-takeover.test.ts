// Two real FerryServers sharing one Swift bucket and one etcd (docs/ARCHITECTURE.md, "Coordination"): an
// upload stalled on server A, A's session still open and still holding the transfer, is retried and lands
// on server B. B's claim in etcd makes A stop (TRANSFER_TAKEN_OVER) and let go before B opens the partial,
// so the two never write it at once (PROTOCOL.md §6.2 across servers); the object read back is exact.
// The client gives up on A when the proxy says the link froze (it resets the client's side only), not by its
// stall watchdog's timer: under load a timer short enough for a test also fires on the slow but live session
// to B (its takeover waits on etcd, A and the object store) and on A before the freeze.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/index.js';
import { S3PartialStore } from '../../src/objectstore/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { EtcdGateway, EtcdTransferOwnership, FerryServer, type ServerEvent } from '../../src/server/index.js';
import { sendFiles } from '../../src/client/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { SwitchProxy } from '../helpers/switch-proxy.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { useSwiftNode } from '../helpers/swift-node.js';
import { useEtcdNode } from '../helpers/etcd-node.js';

const swift = useSwiftNode();
const etcd = useEtcdNode();
const MIB = 1024 * 1024;

test('an upload stalled on server A, still held there, resumed on server B: B takes it over through etcd, A stops first, the object is exact', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-cluster-takeover-');
  const serverIdentity = generateKeyPair();
  const prefix = `ferry-${randomBytes(4).toString('hex')}/`;
  const ownerships = ['a', 'b'].map(
    () => new EtcdTransferOwnership(new EtcdGateway(etcd().endpoint), { prefix, ttlSeconds: 5 }),
  );
  const log: string[] = [];
  const servers = await Promise.all(
    ['a', 'b'].map((name, index) =>
      FerryServer.start({
        root: join(dir, `root-${name}`),
        port: 0,
        identity: serverIdentity,
        authorize: () => ({ permissions: PERMISSION_UPLOAD }),
        partialSweepIntervalMs: 0,
        durableBatchBytes: 4 * MIB,
        objectStore: new S3PartialStore(s.client, { bucket: s.bucket, prefix: 'takeover/' }),
        ownership: ownerships[index]!,
      }),
    ),
  );
  for (const [index, server] of servers.entries()) {
    const name = index === 0 ? 'A' : 'B';
    server.events.on('event', (event: ServerEvent) => {
      if (event.type === 'transfer-started') log.push(`${name} started`);
      if (event.type === 'transfer-failed') log.push(`${name} failed ${event.code}`);
      if (event.type === 'transfer-finished') log.push(`${name} finished`);
      if (event.type === 'session-closed') log.push(`${name} session closed`);
    });
  }
  const balancer = await SwitchProxy.start(servers.map((server) => server.address));
  const stallAt = 14 * MIB;
  const proxy = await FaultProxy.start({
    target: balancer.address,
    // A black hole both ways: A's session stays open, holding the transfer, when the client gives up.
    plan: (index) => (index === 0 ? { stall: { afterBytes: stallAt, freeze: 'both' } } : undefined),
  });
  t.after(async () => {
    await proxy.close();
    await balancer.close();
    for (const server of servers) await server.close();
    for (const ownership of ownerships) await ownership.close();
    await removeTempDir(dir);
  });
  const size = 20 * MIB;
  const source = join(dir, 'big.bin');
  await writeRandomFile(source, size);
  // The first connection is accepted before sendFiles' first await returns; its stall ends the client's side.
  const accepted = proxy.connection(0).then(async (first) => {
    await first.stalled;
    first.resetClient();
  });
  accepted.catch(() => undefined); // awaited after the send; a failed send must not leave it unhandled
  await sendFiles({
    server: proxy.address,
    files: [source],
    identity: generateKeyPair(),
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
    chunkBytes: MIB,
    // The retry goes at once: A still holds the transfer when B is asked for it.
    retry: { retries: 2, random: () => 0, sleep: () => Promise.resolve() },
  });
  await accepted;
  assert.equal(proxy.connections.length, 2, 'one stalled, one resumed session');
  assert.deepEqual(balancer.routed, [0, 1], 'stalled on server A, resumed on server B');
  t.diagnostic(log.join(', '));
  // A was still in the transfer (its session open) and was made to stop before B started writing.
  const aStopped = log.indexOf('A failed TRANSFER_TAKEN_OVER');
  assert.ok(aStopped >= 0, `A was told it was taken over (${log.join(', ')})`);
  assert.ok(aStopped < log.indexOf('B started'), 'A stopped before B started writing');
  assert.ok(!log.slice(0, aStopped).includes('A session closed'), 'A still held it when B claimed it');
  const out = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: 'takeover/big.bin' }));
  const bytes = Buffer.from(await out.Body!.transformToByteArray());
  assert.ok(bytes.equals(await readFile(source)), 'the object read back is the file');
});
