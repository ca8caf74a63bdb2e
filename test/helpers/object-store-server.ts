// A FerryServer whose root is an object store (a prefix of the Swift node's bucket), for one client key
// allowed to upload and download, closed with its temporary directory after the test.
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { FerryServer, type ServeOptions } from '../../src/server/index.js';
import { S3PartialStore } from '../../src/objectstore/index.js';
import { countingClient, type SwiftForTests } from './swift-node.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

/**
 * The server, its client's key, and the store requests it made by command name (countingClient). `store`:
 * another S3 client for the node (one dialling it through a proxy), whose requests the test counts itself.
 */
export async function serveObjectStore(
  t: TestContext,
  s: SwiftForTests,
  prefix: string,
  options: Partial<ServeOptions>,
  store: { client: S3Client; counts: Map<string, number> } = countingClient(s),
): Promise<{ server: FerryServer; key: KeyPair; counts: Map<string, number> }> {
  const { client, counts } = store;
  const dir = await makeTempDir('ferry-object-store-');
  const key = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (k) =>
      k.equals(key.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(client, { bucket: s.bucket, prefix }),
    ...options,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  return { server, key, counts };
}
