// LIST_REQUEST NAMES_ONLY (PROTOCOL.md §5.12) on a server kept in a real OpenStack Swift (s3api) on loopback:
// a listing that asks for names, kinds and sizes sends no HEAD request at all (counted by the store client's
// own middleware, one count per HTTP request sent), one without the flag sends one HEAD per file and reports
// the kept modes and mtimes, and `get -r` (which plans with the flag) gets the tree back with each file's
// mode and mtime from its download.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles, listFiles } from '../../src/client/index.js';
import { MODE_METADATA, MTIME_METADATA, S3PartialStore } from '../../src/objectstore/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { countingClient, useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();

/** The files placed in the bucket: path under the prefix, body, the mode and mtime kept in metadata. */
const FILES = Array.from({ length: 10 }, (_, i) => {
  const path = i < 4 ? `f${String(i).padStart(2, '0')}` : i < 7 ? `d/x${i}` : `d/e/y${i}`;
  return {
    path,
    body: `file ${i}\n`.repeat(i + 1),
    mode: i % 2 === 0 ? 0o600 : 0o640,
    mtimeMs: 1_600_000_000_000 + i * 1001,
  };
});

test('a NAMES_ONLY listing of an object store sends no HEAD; without it one HEAD per file brings the kept modes and mtimes; get -r plans with it', async (t) => {
  const s = swift();
  const prefix = 'names-only/';
  for (const file of FILES) {
    await s.client.send(
      new PutObjectCommand({
        Bucket: s.bucket,
        Key: `${prefix}${file.path}`,
        Body: file.body,
        Metadata: { [MODE_METADATA]: file.mode.toString(8), [MTIME_METADATA]: String(file.mtimeMs) },
      }),
    );
  }
  const { client, counts } = countingClient(s);
  const dir = await makeTempDir('ferry-names-only-');
  const serverIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(client, { bucket: s.bucket, prefix }),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const connect = {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
    retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
  };
  // Kind, path and size of every entry, sorted by path: the directories the keys make, then the files.
  const tree = (entries: ReadonlyArray<{ kind: string; path: string; size: number }>) =>
    entries.map((e) => `${e.kind} ${e.path} ${e.size}`).sort();
  const expectedTree = tree([
    { kind: 'dir', path: 'd', size: 0 },
    { kind: 'dir', path: 'd/e', size: 0 },
    ...FILES.map((f) => ({ kind: 'file', path: f.path, size: f.body.length })),
  ]);

  counts.clear();
  const fast = await listFiles({ ...connect, remotePath: '', recursive: true, namesOnly: true });
  assert.equal(counts.get('HeadObjectCommand') ?? 0, 0, 'no HEAD for a NAMES_ONLY listing');
  assert.ok((counts.get('ListObjectsV2Command') ?? 0) >= 1, 'the listing came from the store');
  assert.deepEqual(tree(fast.entries), expectedTree, 'kinds, paths and sizes right');
  for (const entry of fast.entries) {
    if (entry.kind === 'file')
      assert.deepEqual([entry.mode, entry.mtimeMs], [0, 0], `${entry.path}: not asked`);
    else assert.equal(entry.mode, 0o755, `${entry.path}: a directory keeps its mode`);
  }

  counts.clear();
  const full = await listFiles({ ...connect, remotePath: '', recursive: true });
  assert.equal(counts.get('HeadObjectCommand'), FILES.length, 'one HEAD per file without the flag');
  assert.deepEqual(tree(full.entries), expectedTree, 'the same entries');
  for (const file of FILES) {
    const entry = full.entries.find((e) => e.path === file.path);
    assert.deepEqual(
      [entry?.mode, entry?.mtimeMs],
      [file.mode, file.mtimeMs],
      `${file.path}: kept attributes`,
    );
  }

  // What one file's download costs in HEADs here: a get of one file, less its plan (a listing of the file).
  counts.clear();
  await listFiles({ ...connect, remotePath: 'f00', namesOnly: true });
  const headsPerPlan = counts.get('HeadObjectCommand') ?? 0;
  counts.clear();
  await getFiles({ ...connect, remotePaths: ['f00'], localDir: join(dir, 'one') });
  const headsPerDownload = (counts.get('HeadObjectCommand') ?? 0) - headsPerPlan;
  assert.ok(headsPerDownload >= 1, 'a download opens the object with a HEAD');
  counts.clear();
  const local = join(dir, 'tree');
  await getFiles({ ...connect, remotePaths: [''], localDir: local, recursive: true });
  assert.equal(
    counts.get('HeadObjectCommand'),
    FILES.length * headsPerDownload,
    `the downloads' HEADs (${headsPerDownload} each) and none for the plan`,
  );
  for (const file of FILES) {
    const path = join(local, ...file.path.split('/'));
    assert.equal(await readFile(path, 'utf8'), file.body, `${file.path}: got back exact`);
    const info = await stat(path);
    assert.equal(info.mode & 0o777, file.mode, `${file.path}: mode from its download`);
    assert.equal(Math.trunc(info.mtimeMs), file.mtimeMs, `${file.path}: mtime from its download`);
  }
});
