// The rig of the end-to-end cluster tests (test/e2e/cli-cluster-*.test.ts): one Swift node and one etcd per
// file (useSwiftNode, useEtcdNode), a client home, a cluster of two `ferry serve` behind HAProxy on them
// (scripts/cluster/ferry-cluster.ts) and a byte-counting proxy per test between the client and HAProxy.
// Call once inside a `describe`: node 20 runs a file's top-level `before` hooks concurrently, a suite's in
// order, and this rig's hook needs Swift and etcd up. Everything it starts is stopped in `after`.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import {
  startFerryCluster,
  type ClusterServer,
  type FerryCluster,
  type LogRecord,
} from '../../scripts/cluster/ferry-cluster.js';
import { runFerry, spawnFerry, type SpawnedFerry } from './cli.js';
import { FaultProxy } from './fault-proxy.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { useSwiftNode, type SwiftForTests } from './swift-node.js';
import { useEtcdNode } from './etcd-node.js';

export interface ClusterRig {
  readonly dir: string;
  readonly cluster: FerryCluster;
  readonly swift: SwiftForTests;
  /** A byte-counting proxy in front of HAProxy, closed in `after`. */
  proxy(): Promise<FaultProxy>;
  /** Spawns `ferry --home CLIENT ARGS --expect ID --retries 4` (killed in `after` if still running). */
  ferry(args: readonly string[]): SpawnedFerry;
  /** The server that logs the start of `direction` of `path` first: the one holding that transfer. */
  holder(match: (record: LogRecord) => boolean): Promise<ClusterServer>;
  /**
   * `waiting`, or a failure with the client's output if `client` exits first: a wait on a server's log
   * line must not outlive the client that was to cause it.
   */
  until<T>(client: SpawnedFerry, waiting: Promise<T>): Promise<T>;
  /** The server other than `server` that still runs. */
  other(server: ClusterServer): ClusterServer;
  objectBytes(key: string): Promise<Buffer>;
  /** Every key under `prefix` in the bucket. */
  keysUnder(prefix: string): Promise<string[]>;
}

/**
 * A killed server's transfers stay claimed for its etcd lease's TTL (`--claim-ttl`): the retry of every
 * kill test waits that long with no byte on the wire. 5 s, not the 10 s default, as the ownership tests'
 * (test/coordination/cluster-takeover.test.ts): long enough that a loaded machine's late renewal (every
 * quarter TTL, given up after half) keeps the lease.
 */
const CLAIM_TTL = '5s';

export function useClusterRig(serveArgs: readonly string[] = []): () => ClusterRig {
  const swift = useSwiftNode();
  const etcd = useEtcdNode();
  let rig: ClusterRig | undefined;
  let dir: string | undefined;
  let cluster: FerryCluster | undefined;
  const proxies: FaultProxy[] = [];
  const children: SpawnedFerry[] = [];
  before(async () => {
    dir = await makeTempDir('ferry-e2e-cluster-');
    const clientHome = join(dir, 'client-home');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assert.equal(client.code, 0, client.stderr);
    const s = swift();
    const started = await startFerryCluster({
      swift: s.node,
      bucket: s.bucket,
      etcdEndpoint: etcd().endpoint,
      dir,
      clients: [client.stdout.trim()],
      serveArgs: ['--claim-ttl', CLAIM_TTL, ...serveArgs],
    });
    cluster = started;
    const workDir = dir;
    rig = {
      dir: workDir,
      cluster: started,
      swift: s,
      async proxy() {
        const proxy = await FaultProxy.start({
          target: { host: started.haproxy.host, port: started.haproxy.port },
        });
        proxies.push(proxy);
        return proxy;
      },
      ferry(args) {
        const child = spawnFerry(
          ['--home', clientHome, ...args, '--expect', started.id, '--retries', '4', '--retry-delay', '50'],
          110_000,
        );
        children.push(child);
        return child;
      },
      holder(match) {
        return Promise.any(
          started.servers
            .filter((server) => server.alive)
            .map((server) => server.waitForLog(match).then(() => server)),
        );
      },
      until(client, waiting) {
        const exited = client.done.then((r) => {
          throw new Error(`the client exited (${r.code ?? r.signal}) first:\n${r.stderr}`);
        });
        return Promise.race([waiting, exited]);
      },
      other(server) {
        const other = started.servers.find((s2) => s2 !== server && s2.alive);
        if (!other) throw new Error('no other server runs');
        return other;
      },
      async objectBytes(key) {
        const out = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
        return Buffer.from(await out.Body!.transformToByteArray());
      },
      async keysUnder(prefix) {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await s.client.send(
            new ListObjectsV2Command({ Bucket: s.bucket, Prefix: prefix, ContinuationToken: token }),
          );
          keys.push(...(page.Contents ?? []).map((c) => c.Key!));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys;
      },
    };
  });
  after(async () => {
    for (const child of children)
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    await Promise.allSettled(children.map((c) => c.done));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await cluster?.stop();
    if (dir !== undefined) await removeTempDir(dir);
  });
  return () => {
    if (!rig) throw new Error('the cluster did not start (see the before hook)');
    return rig;
  };
}
