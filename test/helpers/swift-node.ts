// One real Swift node (Debian's OpenStack Swift with s3api) per test file: started in `before`, stopped in
// `after` (scripts/cluster/swift-node.ts). Missing packages are installed when the tests run as root (as
// .ci/run does); otherwise the file fails and says which packages to install. Nothing is skipped.
import { after, before } from 'node:test';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  missingSwiftPackages,
  startSwiftNode,
  SWIFT_PACKAGES,
  type SwiftNode,
} from '../../scripts/cluster/swift-node.js';
import { haproxyInstalled } from '../../scripts/cluster/haproxy-node.js';
import { s3StoreClient } from '../../src/objectstore/index.js';

/** A running node, an S3 client for it, and a bucket of this file's own. */
export interface SwiftForTests {
  readonly node: SwiftNode;
  readonly client: S3Client;
  readonly bucket: string;
}

/** Installs the Swift packages (and HAProxy) with apt-get when missing and we are root; throws why otherwise. */
function ensureSwiftInstalled(): void {
  const packages = [...SWIFT_PACKAGES.map((p) => p.pkg), 'haproxy'];
  if (missingSwiftPackages().length === 0 && haproxyInstalled()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`these tests need OpenStack Swift and HAProxy: apt-get install -y ${packages.join(' ')}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...packages],
  ]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${result.stderr}`);
  }
  const still = missingSwiftPackages();
  if (still.length > 0) throw new Error(`apt-get left Swift packages missing: ${still.join(' ')}`);
}

/**
 * Registers `before` and `after` hooks for the calling test file and returns a getter for the node, valid
 * inside tests. Call once, at the top of a file.
 */
export function useSwiftNode(): () => SwiftForTests {
  let running: SwiftForTests | undefined;
  before(async () => {
    ensureSwiftInstalled();
    const node = await startSwiftNode();
    try {
      const client = s3StoreClient({
        endpoint: node.endpoint,
        region: node.region,
        credentials: { accessKeyId: node.accessKeyId, secretAccessKey: node.secretAccessKey },
      });
      const bucket = `ferry-${randomBytes(4).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      running = { node, client, bucket };
    } catch (err) {
      await node.stop();
      throw err;
    }
  });
  after(async () => {
    running?.client.destroy();
    await running?.node.stop();
  });
  return () => {
    if (!running) throw new Error('the Swift node did not start (see the before hook)');
    return running;
  };
}

/** An S3 client for the node whose every HTTP request (each retry too) is counted by command name. */
export function countingClient(s: SwiftForTests): { client: S3Client; counts: Map<string, number> } {
  const client = s3StoreClient({
    endpoint: s.node.endpoint,
    region: s.node.region,
    credentials: { accessKeyId: s.node.accessKeyId, secretAccessKey: s.node.secretAccessKey },
  });
  const counts = new Map<string, number>();
  // The deserialize step runs once per attempt, inside the SDK's retry loop: a count per request on the wire.
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? 'unnamed';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'deserialize', name: 'countRequests' },
  );
  return { client, counts };
}
