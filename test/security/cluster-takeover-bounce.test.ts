// An offer bouncing between two servers of a cluster (docs/SECURITY.md "Admission in a cluster"): a client
// with a session on server A and one on server B offers the same file on each in turn, so every offer takes
// the transfer over from the other server through etcd (a takeover request, a watch, the holder's surrender
// and release, a new claim). Nothing paid for those requests: the bounce ran as fast as etcd answered. Each
// server now pays a claim's requests and each takeover from a budget per client and one for all clients
// (CoordinationBudget); past either, the claim waits. Two real FerryServers and a real etcd on loopback; the
// budget's clock is injected and its wait parks until the test ends, so nothing sleeps.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import {
  EtcdGateway,
  EtcdTransferOwnership,
  FerryServer,
  type CoordinationBudgetOptions,
} from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { useEtcdNode } from '../helpers/etcd-node.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const etcd = useEtcdNode();
/** Offers each bouncing client makes, alternating between the servers. */
const BOUNCES = 24;

interface Cluster {
  servers: FerryServer[];
  gateway: EtcdGateway;
  prefix: string;
  /** Resolves once a claim waits on the budget. */
  budgetWaited: Promise<void>;
}

async function startCluster(t: TestContext, budget: CoordinationBudgetOptions): Promise<Cluster> {
  const dir = await makeTempDir('ferry-bounce-');
  const prefix = `bounce-${randomBytes(4).toString('hex')}/`;
  const gateway = new EtcdGateway(etcd().endpoint);
  const ownerships = ['a', 'b'].map(
    () => new EtcdTransferOwnership(new EtcdGateway(etcd().endpoint), { prefix, ttlSeconds: 5 }),
  );
  let waited!: () => void;
  const budgetWaited = new Promise<void>((resolve) => (waited = resolve));
  // A wait on the budget parks until the test ends (then every parked claim goes on and fails closing).
  let release!: () => void;
  const ended = new Promise<void>((resolve) => (release = resolve));
  const serverIdentity = generateKeyPair();
  const servers = await Promise.all(
    ['a', 'b'].map((name, index) =>
      FerryServer.start({
        root: join(dir, `root-${name}`),
        port: 0,
        identity: serverIdentity,
        authorize: () => ({ permissions: PERMISSION_UPLOAD }),
        partialSweepIntervalMs: 0,
        ownership: ownerships[index]!,
        coordinationBudget: {
          ...budget,
          now: () => 0,
          sleep: () => {
            waited();
            return ended;
          },
        },
      }),
    ),
  );
  t.after(async () => {
    release();
    for (const server of servers) await server.close();
    for (const ownership of ownerships) await ownership.close();
    await removeTempDir(dir);
  });
  return { servers, gateway, prefix, budgetWaited };
}

/** Reads a session in the background; `answer(ref)` is the PUT_ACCEPT or ERROR for `ref`. */
class Reader {
  readonly #seen: Message[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(channel: SecureChannel) {
    void (async () => {
      try {
        for (;;) {
          this.#seen.push(await channel.receive());
          for (const wake of this.#waiters) wake();
        }
      } catch {
        // The session ended with the test.
      }
    })();
  }

  async answer(ref: number): Promise<Message> {
    for (;;) {
      const found = this.#seen.find(
        (m) => (m.type === 'PUT_ACCEPT' || m.type === 'ERROR') && 'ref' in m && m.ref === ref,
      );
      if (found) return found;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }
}

/**
 * Offers `path` BOUNCES times, alternately on A and B, each after the last was answered; stops early when a
 * claim waits on the budget. Returns the offers accepted.
 */
async function bounce(t: TestContext, cluster: Cluster, identity: KeyPair, path: string): Promise<number> {
  const sessions = await Promise.all(
    cluster.servers.map((server) => openAdmittedSession(t, server.address, identity)),
  );
  const readers = sessions.map((channel) => new Reader(channel));
  let accepted = 0;
  for (let i = 0; i < BOUNCES; i++) {
    const ref = i + 1;
    await sessions[i % 2]!.send({
      type: 'PUT_OFFER',
      ref,
      size: 1,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: 64 * 1024,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      path,
    });
    const answer = await Promise.race([
      readers[i % 2]!.answer(ref),
      cluster.budgetWaited.then(() => 'waits'),
    ]);
    if (answer === 'waits') break;
    assert.equal((answer as Message).type, 'PUT_ACCEPT', JSON.stringify(answer));
    accepted++;
  }
  return accepted;
}

async function etcdRevision(cluster: Cluster): Promise<bigint> {
  return (await cluster.gateway.range(cluster.prefix)).revision;
}

test('one client bouncing an offer between two servers is held to its takeover budget on each', async (t) => {
  const cluster = await startCluster(t, { takeoversBurst: 3 });
  const before = await etcdRevision(cluster);
  const accepted = await bounce(t, cluster, generateKeyPair(), 'bounce.bin');
  const writes = (await etcdRevision(cluster)) - before;
  t.diagnostic(`${accepted} offers accepted, ${writes} etcd writes`);
  // The first offer takes a free transfer; after it each server grants 3 takeovers, then the claim waits.
  assert.ok(accepted <= 1 + 2 * 3, `${accepted} offers accepted of ${BOUNCES}`);
  await cluster.budgetWaited;
});

test('clients under many keys bouncing offers are held to the takeover budget of all clients', async (t) => {
  const cluster = await startCluster(t, { totalTakeoversBurst: 4 });
  const outcomes = await Promise.all(
    [0, 1, 2].map((n) => bounce(t, cluster, generateKeyPair(), `bounce-${n}.bin`)),
  );
  const accepted = outcomes.reduce((sum, n) => sum + n, 0);
  t.diagnostic(`${outcomes.join(' + ')} offers accepted`);
  // Three first claims, then 4 takeovers per server for all three clients together.
  assert.ok(accepted <= 3 + 2 * 4 + 2, `${accepted} offers accepted of ${3 * BOUNCES}`);
  await cluster.budgetWaited;
});

test('a claim pays its requests: a client past its request budget waits before etcd hears of its offer', async (t) => {
  // 3 requests a claim: a burst of 7 pays for two claims, the third waits.
  const cluster = await startCluster(t, { requestsBurst: 7 });
  const identity = generateKeyPair();
  const session = await openAdmittedSession(t, cluster.servers[0]!.address, identity);
  const reader = new Reader(session);
  let accepted = 0;
  for (let ref = 1; ref <= 5; ref++) {
    await session.send({
      type: 'PUT_OFFER',
      ref,
      size: 1,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: 64 * 1024,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      path: `file-${ref}.bin`,
    });
    const answer = await Promise.race([reader.answer(ref), cluster.budgetWaited.then(() => 'waits')]);
    if (answer === 'waits') break;
    accepted++;
    // End this upload (§5.9) so the next offer is the next claim.
    await session.send({ type: 'CANCEL', ref });
  }
  assert.equal(accepted, 2);
});
