// An object store's bucket may hold keys no remote path can name (PROTOCOL.md §7.1): a `\`, a C1 control
// character (Swift's XML listing cannot carry C0 ones), a `.` or `..` component, a component over 255 bytes. Whoever else writes the bucket (another
// tool, another tenant of a shared bucket, the operator's own scripts) puts them there; a ferry client cannot.
// A server on a disk leaves such names out of its listings; one on an object store listed them, and every
// client refuses a listing that holds one (MESSAGE_MALFORMED or PATH_INVALID), so one such key made every
// `get -r`, `sync` and `ls -r` of the directories above it fail. One rule for both roots now: the object
// listing leaves them out too, and the rest of the tree goes. Against a real Swift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/index.js';
import { getFiles, listFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD, parseRemotePath } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { S3PartialStore } from '../../src/objectstore/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();

/** Keys under `t/` that no remote path can name, each in a directory of its own. */
const UNSENDABLE = [
  't/c1/a\u009bb',
  't/back/a\\b',
  't/dots/x/../y',
  't/dot/./z',
  `t/long/${'n'.repeat(300)}`,
  't/a\u009bdir/inside',
];

test('an object store lists no key a remote path cannot name: a tree beside such keys downloads', async (t) => {
  const s = swift();
  const prefix = `unsendable-${Date.now()}/`;
  for (const key of ['t/good.txt', 't/c1/ok.txt', ...UNSENDABLE])
    await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}${key}`, Body: `${key}\n` }));
  const dir = await makeTempDir('ferry-unsendable-keys-');
  const client = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(s.client, { bucket: s.bucket, prefix }),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const connect = {
    server: server.address,
    identity: client,
    verifyServer: () => undefined,
    retry: { retries: 0 },
  };
  for (const recursive of [true, false]) {
    const listing = await listFiles({ ...connect, remotePath: 't', recursive });
    const paths = listing.entries.map((e) => e.path);
    // Each listed name is one a client can ask for.
    for (const path of paths) assert.doesNotThrow(() => parseRemotePath(`t/${path}`), `listed ${path}`);
    assert.ok(paths.includes('good.txt'), paths.join(', '));
  }
  // Before: the whole download failed at the listing (MESSAGE_MALFORMED), nothing arrived.
  const local = join(dir, 'local');
  await getFiles({ ...connect, remotePaths: ['t'], localDir: local, recursive: true });
  assert.equal(await readFile(join(local, 't', 'good.txt'), 'utf8'), 't/good.txt\n');
  assert.equal(await readFile(join(local, 't', 'c1', 'ok.txt'), 'utf8'), 't/c1/ok.txt\n');
  const arrived = await readdir(join(local, 't'), { recursive: true, withFileTypes: true });
  assert.deepEqual(
    arrived
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(local.length + 1))
      .sort(),
    ['t/c1/ok.txt', 't/good.txt'],
  );
});

// Its sibling: `.ferry` first in a remote path is reserved in any case (§7.1), so a server hides it at the top
// of the client's own root, whatever its confinement. An object store hid only `.ferry` spelt so, and only at
// the bucket's top: a client confined to `sub` was listed `sub/.ferry/x` (which an unconfined client may
// upload), and anyone `.FERRY/x`, and each failed that client's `get -r` of its root.
test('an object store hides .ferry in any case at the top of a confined client root', async (t) => {
  const s = swift();
  const prefix = `reserved-${Date.now()}/`;
  for (const key of ['sub/mine.txt', 'sub/.ferry/x', 'sub/.FERRY/y', '.FERRY/z', 'top.txt'])
    await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}${key}`, Body: `${key}\n` }));
  const dir = await makeTempDir('ferry-reserved-keys-');
  const confined = generateKeyPair();
  const whole = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      key.equals(confined.publicKey)
        ? { permissions: PERMISSION_DOWNLOAD, root: 'sub' }
        : key.equals(whole.publicKey)
          ? { permissions: PERMISSION_DOWNLOAD }
          : undefined,
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(s.client, { bucket: s.bucket, prefix }),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  for (const [identity, name, want] of [
    [confined, 'confined', ['mine.txt']],
    [whole, 'whole', ['sub/.ferry/x', 'sub/.FERRY/y', 'sub/mine.txt', 'top.txt']],
  ] as const) {
    const local = join(dir, name);
    // Before: PATH_INVALID at the listing, nothing fetched.
    await getFiles({
      server: server.address,
      identity,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      remotePaths: [''],
      localDir: local,
      recursive: true,
    });
    const arrived = await readdir(local, { recursive: true, withFileTypes: true });
    assert.deepEqual(
      arrived
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(local.length + 1))
        .sort(),
      [...want].sort(),
    );
  }
});
