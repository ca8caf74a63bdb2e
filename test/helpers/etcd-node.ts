// One real etcd 3.4 (Debian's `etcd-server`) per test file: started in `before` on loopback ports with a
// temp data dir, stopped in `after` (scripts/cluster/etcd-node.ts). Installed with apt-get when missing and
// we are root (as .ci/run does); otherwise the file fails and says what to install. Nothing is skipped.
import { after, before } from 'node:test';
import { spawnSync } from 'node:child_process';
import {
  ETCD_PACKAGE,
  etcdInstalled,
  startEtcdNode,
  type EtcdNode,
} from '../../scripts/cluster/etcd-node.js';

function ensureEtcdInstalled(): void {
  if (etcdInstalled()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`these tests need etcd: apt-get install -y ${ETCD_PACKAGE.pkg}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ETCD_PACKAGE.pkg],
  ]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${result.stderr}`);
  }
  if (!etcdInstalled()) throw new Error(`apt-get left ${ETCD_PACKAGE.pkg} missing`);
}

/** Registers `before`/`after` hooks for the calling file; returns a getter for the node, valid in tests. */
export function useEtcdNode(): () => EtcdNode {
  let running: EtcdNode | undefined;
  before(async () => {
    ensureEtcdInstalled();
    running = await startEtcdNode();
  });
  after(async () => {
    await running?.stop();
  });
  return () => {
    if (!running) throw new Error('etcd did not start (see the before hook)');
    return running;
  };
}
