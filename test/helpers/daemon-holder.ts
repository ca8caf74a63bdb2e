// A test-like parent for test/integration/daemons-die-with-their-test.test.ts: starts one daemon the way the
// test helpers do (etcd, HAProxy or a whole Swift node, from scripts/cluster/; `ferry serve` from cli.ts, its
// home and root in the directory given after the name), prints `ready`, and then holds it until it is killed. The test kills it with SIGKILL, as scripts/run-tests.mjs's timeout does, so
// no `after` hook and no 'exit' listener runs: only how the daemon was spawned can take it down.
import { join } from 'node:path';
import { startEtcdNode } from '../../scripts/cluster/etcd-node.js';
import { startHaproxy } from '../../scripts/cluster/haproxy-node.js';
import { startSwiftNode } from '../../scripts/cluster/swift-node.js';
import { runFerry, startServe } from './cli.js';

const which = process.argv[2];
if (which === 'etcd') await startEtcdNode();
else if (which === 'haproxy') await startHaproxy([{ host: '127.0.0.1', port: 9 }]);
else if (which === 'swift') await startSwiftNode();
else if (which === 'ferry-serve') {
  const dir = process.argv[3];
  if (dir === undefined) throw new Error('ferry-serve needs a directory for its home and root');
  const keygen = await runFerry(['--home', join(dir, 'home'), 'keygen']);
  if (keygen.code !== 0) throw new Error(`ferry keygen failed: ${keygen.stderr}`);
  await startServe(['--home', join(dir, 'home'), '--root', join(dir, 'root')]);
} else throw new Error(`unknown daemon ${String(which)}`);
process.stdout.write('ready\n');
// Held until killed (the daemons' pipes keep the loop alive too; this says so).
setInterval(() => undefined, 1 << 30);
