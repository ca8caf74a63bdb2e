// `ferry sync --delete` up to an object-store server, a remote directory (the prefix of keys) in the way of a
// file: the keys below go once the object is placed (PUT_OFFER REPLACE_DIR, PROTOCOL.md §5.3), not by
// REMOVE_REQUESTs before the uploads, so an upload refused on its own (here a file over the server's size
// limit) leaves every key of the directory it was to replace. Against a real Swift (s3api) on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/index.js';
import { syncTree } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { S3PartialStore } from '../../src/objectstore/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const LIMIT = 1024;

test('sync up --delete to an object store keeps every key of a directory a refused file was to replace, and replaces another directory by a file once it is placed', async (t) => {
  const s = swift();
  const prefix = 'replace-dir/';
  for (const key of ['dst/big/a', 'dst/big/sub/b', 'dst/small/a', 'dst/small/sub/b', 'dst/keep.txt'])
    await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}${key}`, Body: `${key}\n` }));
  const dir = await makeTempDir('ferry-store-replace-dir-');
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    maxFileBytes: LIMIT,
    objectStore: new S3PartialStore(s.client, { bucket: s.bucket, prefix }),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'keep.txt'), 'dst/keep.txt\n');
  await writeFile(join(src, 'big'), Buffer.alloc(2 * LIMIT, 7));
  await writeFile(join(src, 'small'), 'now a file\n');
  const err = await syncTree({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    direction: 'upload',
    localDir: src,
    remotePath: 'dst',
    delete: true,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal((err as { code?: string } | undefined)?.code, 'FILE_TOO_LARGE', 'big was refused');
  const listed = await s.client.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: `${prefix}dst/` }));
  const keys = (listed.Contents ?? []).map((c) => c.Key!.slice(prefix.length)).sort();
  assert.deepEqual(keys, ['dst/big/a', 'dst/big/sub/b', 'dst/keep.txt', 'dst/small']);
  const small = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: `${prefix}dst/small` }));
  assert.equal(Buffer.from(await small.Body!.transformToByteArray()).toString(), 'now a file\n');
});
