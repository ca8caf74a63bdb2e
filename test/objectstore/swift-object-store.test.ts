// S3PartialStore against a real OpenStack Swift (s3api) on loopback: the port's conformance suite, then
// what only an object store has: 5 MiB parts of whole chunks, a partial resumed by another server (another
// store over the same bucket) re-verified through ranged GETs, a part changed behind the log's back, and the
// sweeper's removal of a finish that died with its multipart upload open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  PartialTransfer,
  receivedFileMode,
  verifyLoggedChunks,
  type ChunkEntry,
} from '../../src/transfer/index.js';
import {
  MODE_METADATA,
  MTIME_METADATA,
  ObjectSource,
  PartLayout,
  S3PartialStore,
  type S3Target,
} from '../../src/objectstore/index.js';
import { chmod, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer, type ServeOptions } from '../../src/server/index.js';
import { getFiles, listFiles, sendFiles, sendPaths, type TransferEvent } from '../../src/client/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  chunkHashOf,
  smallFileDigest,
  type BatchDoneMessage,
} from '../../src/protocol/index.js';
import { codeFromWire } from '../../src/errors/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { describePartialStore } from '../transfer/partial-store-conformance.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { SwitchProxy } from '../helpers/switch-proxy.js';
import { startHaproxy } from '../../scripts/cluster/haproxy-node.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { useSwiftNode, type SwiftForTests } from '../helpers/swift-node.js';

const swift = useSwiftNode();

/** A store over a prefix of its own in the file's bucket, as one server would have. */
function storeAt(s: SwiftForTests, prefix: string): S3PartialStore {
  return new S3PartialStore(s.client, { bucket: s.bucket, prefix });
}

async function readObject(
  s: SwiftForTests,
  key: string,
): Promise<{ bytes: Buffer; mode: number; mtimeMs: number } | undefined> {
  try {
    const out = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    return {
      bytes: Buffer.from(await out.Body!.transformToByteArray()),
      mode: parseInt(out.Metadata?.[MODE_METADATA] ?? '0', 8),
      mtimeMs: Number(out.Metadata?.[MTIME_METADATA] ?? 0),
    };
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

let harnesses = 0;
describePartialStore<string, S3Target>(
  'S3PartialStore (Swift s3api)',
  () => {
    const s = swift();
    const store = storeAt(s, `t${++harnesses}/`);
    return Promise.resolve({
      store,
      key: (name) => `key-${name}`,
      target: (name) => Promise.resolve(store.targetOf(name)),
      placeForeign: async (target, bytes) => {
        await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: target, Body: bytes }));
      },
      readTarget: (target) => readObject(s, target),
      sweepable: store,
    });
  },
  { crash: false, list: true, closingRecord: false },
);

const MIB = 1024 * 1024;

/**
 * Servers A and B of a cluster: one identity (a cluster shares it), each its own root under `dir`, both
 * upload-only on one bucket under `prefix`; nothing else in common. The caller closes them.
 */
function startServerPair(
  s: SwiftForTests,
  dir: string,
  prefix: string,
  options: Partial<ServeOptions> = {},
): Promise<FerryServer[]> {
  const identity = generateKeyPair();
  return Promise.all(
    ['a', 'b'].map((name) =>
      FerryServer.start({
        root: join(dir, `root-${name}`),
        port: 0,
        identity,
        authorize: () => ({ permissions: PERMISSION_UPLOAD }),
        partialSweepIntervalMs: 0,
        objectStore: storeAt(s, prefix),
        ...options,
      }),
    ),
  );
}

function entriesOf(bytes: Buffer, chunkBytes: number, indices: number[]): ChunkEntry[] {
  return indices.map((index) => ({
    index,
    hash: chunkHashOf(bytes.subarray(index * chunkBytes, (index + 1) * chunkBytes)),
  }));
}

test('PartLayout: parts are whole chunks of at least 5 MiB, the last one what is left', () => {
  const layout = new PartLayout(11 * MIB + 3, MIB);
  assert.equal(layout.chunksPerPart, 5);
  assert.equal(layout.partCount, 3);
  assert.deepEqual(
    [1, 2, 3].map((p) => layout.lengthOf(p)),
    [5 * MIB, 5 * MIB, MIB + 3],
  );
  assert.equal(layout.partOf(5 * MIB - 1), 1);
  assert.equal(layout.partOf(5 * MIB), 2);
  assert.equal(new PartLayout(100, 3 * 1024).chunksPerPart, Math.ceil((5 * MIB) / 3072));
  assert.equal(new PartLayout(20 * MIB, 8 * MIB).chunksPerPart, 1, 'a chunk of 5 MiB or more is a part');
});

test('a multi-part partial cut on one server is resumed on another, re-verified, and finished exact', async () => {
  const s = swift();
  const chunkBytes = MIB;
  const content = randomBytes(11 * MIB + 12345); // three parts: 5 + 5 + 1.01 MiB
  const header = { size: content.length, mtimeMs: 1_700_000_000_000, chunkBytes };
  const chunks = Math.ceil(content.length / chunkBytes);
  const serverA = storeAt(s, 'cluster/');
  const serverB = storeAt(s, 'cluster/');

  // Server A receives chunks 0-6 (part 1 whole, part 2 in part) and is cut: close, nothing more.
  const onA = await serverA.open('t1', header, { fresh: false, keepLog: true });
  for (let i = 0; i < 7; i++)
    await onA.write(i * chunkBytes, content.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  await onA.makeDurable(entriesOf(content, chunkBytes, [0, 1, 2, 3, 4, 5, 6]));
  await onA.close();

  // Server B never saw a byte: it resumes from the state object and re-hashes what the parts hold.
  const transfer = await PartialTransfer.open<string, S3Target>(serverB, 't1', { ...header, fresh: false });
  assert.deepEqual(transfer.heldRanges(), [{ first: 0, count: 7 }]);
  assert.equal(transfer.verifiedBytes, 7 * chunkBytes);
  await transfer.close();

  const onB = await serverB.open('t1', header, { fresh: false, keepLog: true });
  assert.equal(onB.resumed, true);
  await onB.resetLog(await verifyLoggedChunks(onB, onB.logged, header));
  for (let i = 7; i < chunks; i++)
    await onB.write(i * chunkBytes, content.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  await onB.makeDurable(entriesOf(content, chunkBytes, [7, 8, 9, 10, 11]));
  const target = serverB.targetOf('big.bin');
  await onB.finish(target, { mode: 0o600, mtimeMs: header.mtimeMs, overwrite: false });

  const placed = await readObject(s, target);
  assert.ok(placed?.bytes.equals(content), 'the object read back is the file');
  assert.equal(placed?.mode, 0o600);
  assert.deepEqual(await serverB.list(), [], 'no partial objects left');
  const uploads = await s.client.send(
    new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: 'cluster/' }),
  );
  assert.equal(uploads.Uploads?.length ?? 0, 0, 'no multipart upload left open');
});

test('a part changed in the store behind the log is not counted held by a server resuming it', async () => {
  const s = swift();
  const chunkBytes = MIB;
  const content = randomBytes(6 * MIB);
  const header = { size: content.length, mtimeMs: 0, chunkBytes };
  const store = storeAt(s, 'tamper/');
  const partial = await store.open('t2', header, { fresh: false, keepLog: true });
  for (let i = 0; i < 6; i++)
    await partial.write(i * chunkBytes, content.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  await partial.makeDurable(entriesOf(content, chunkBytes, [0, 1, 2, 3, 4, 5]));
  await partial.close();
  // Someone rewrites part 1 with one byte flipped in its third chunk.
  const listed = await s.client.send(
    new GetObjectCommand({ Bucket: s.bucket, Key: 'tamper/.ferry/partial/t2.state' }),
  );
  const writer = (JSON.parse(await listed.Body!.transformToString()) as { parts: Record<string, string> })
    .parts['1'];
  const part1 = Buffer.from(content.subarray(0, 5 * MIB));
  part1[2 * MIB + 7]! ^= 1;
  await s.client.send(
    new PutObjectCommand({ Bucket: s.bucket, Key: `tamper/.ferry/partial/t2/${writer}/1`, Body: part1 }),
  );
  const resumed = await PartialTransfer.open<string, S3Target>(storeAt(s, 'tamper/'), 't2', {
    ...header,
    fresh: false,
  });
  assert.deepEqual(resumed.heldRanges(), [
    { first: 0, count: 2 },
    { first: 3, count: 3 },
  ]);
  await resumed.close();
});

test('the sweeper removes a partial whose finish died: its parts, its state and its open multipart upload', async () => {
  const s = swift();
  const store = storeAt(s, 'sweep/');
  const content = randomBytes(3 * 64 * 1024 - 100);
  const header = { size: content.length, mtimeMs: 0, chunkBytes: 64 * 1024 };
  const partial = await store.open('t3', header, { fresh: false, keepLog: true });
  await partial.write(0, content);
  await partial.makeDurable(entriesOf(content, 64 * 1024, [0, 1, 2]));
  await partial.close();
  // A finish that got as far as creating its multipart upload and recording it, then died.
  const target = store.targetOf('half.bin');
  const created = await s.client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: target }));
  const stateKey = 'sweep/.ferry/partial/t3.state';
  const state = JSON.parse(
    await (
      await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: stateKey }))
    ).Body!.transformToString(),
  ) as Record<string, unknown>;
  state.finishing = { target, uploadId: created.UploadId };
  await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: stateKey, Body: JSON.stringify(state) }));

  assert.deepEqual(
    (await store.list()).map((p) => p.key),
    ['t3'],
  );
  await store.remove('t3');
  assert.deepEqual(await store.list(), []);
  const uploads = await s.client.send(
    new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: 'sweep/' }),
  );
  assert.equal(uploads.Uploads?.length ?? 0, 0, 'the abandoned multipart upload was aborted');
  await assert.rejects(s.client.send(new HeadObjectCommand({ Bucket: s.bucket, Key: target })), {
    name: 'NotFound',
  });
});

test('ferry serve with an object store: a sent file lands as an object, exact, not clobbered; listed and got back', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-');
  const serverIdentity = generateKeyPair();
  const clientIdentity = generateKeyPair();
  const store = storeAt(s, 'served/');
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    durableBatchBytes: 2 * MIB,
    objectStore: store,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const source = join(dir, 'payload.bin');
  await writeRandomFile(source, 7 * MIB + 4321); // two parts of 1 MiB chunks: 5 MiB and the rest
  await chmod(source, 0o640);
  const send = (overwrite: boolean, events: TransferEvent[] = []): Promise<unknown> =>
    sendFiles({
      server: server.address,
      files: [source],
      remoteDir: 'in/box',
      identity: clientIdentity,
      verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
      chunkBytes: MIB,
      overwrite,
      onEvent: (e) => events.push(e),
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    });
  await send(false);

  const placed = await readObject(s, 'served/in/box/payload.bin');
  assert.ok(placed, 'the object exists');
  assert.ok(placed.bytes.equals(await readFile(source)), 'the object read back is the file sent');
  assert.equal(placed.mode, receivedFileMode(0o640), 'the mode the server applies, kept as metadata');
  assert.deepEqual(await store.list(), [], 'no partial left in the store');
  // The same file again: the object is read back and compared (PROTOCOL.md §5.4 EXISTING), IDENTICAL.
  const again: TransferEvent[] = [];
  await send(false, again);
  const finished = again.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished' && finished.identical, 'an identical object is skipped');
  assert.equal(finished.transferredBytes, 0, 'no byte sent for an identical object');
  // Changed, same size: the existing object is not replaced.
  const changed = await readFile(source);
  changed[5 * MIB + 17] = changed[5 * MIB + 17]! ^ 1;
  await writeFile(source, changed);
  await assert.rejects(send(false), { code: 'FILE_EXISTS' }, 'an existing object is not replaced');
  await send(true);
  assert.ok((await readObject(s, 'served/in/box/payload.bin'))?.bytes.equals(await readFile(source)));

  const connect = {
    server: server.address,
    identity: clientIdentity,
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
    retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
  };
  const listing = await listFiles({ ...connect, remotePath: '', recursive: true });
  assert.deepEqual(
    listing.entries.map((e) => [e.kind, e.path, e.size]),
    [
      ['dir', 'in', 0],
      ['dir', 'in/box', 0],
      ['file', 'in/box/payload.bin', 7 * MIB + 4321],
    ],
    'the tree the keys make; the server state under .ferry/ is not shown',
  );
  // Downloads are ranged GETs of the object; a recursive get walks the same tree.
  const one = join(dir, 'one');
  await getFiles({ ...connect, remotePaths: ['in/box/payload.bin'], localDir: one, chunkBytes: MIB });
  assert.ok((await readFile(join(one, 'payload.bin'))).equals(await readFile(source)), 'got back exact');
  assert.equal(
    Math.trunc((await stat(join(one, 'payload.bin'))).mtimeMs),
    Math.trunc((await stat(source)).mtimeMs),
    'mtime kept',
  );
  const tree = join(dir, 'tree');
  await getFiles({ ...connect, remotePaths: ['in'], localDir: tree, recursive: true });
  assert.ok((await readFile(join(tree, 'in', 'box', 'payload.bin'))).equals(await readFile(source)));
  await assert.rejects(getFiles({ ...connect, remotePaths: ['in/none.bin'], localDir: one }), {
    code: 'PATH_NOT_FOUND',
  });
});

test('an upload cut on server A resumes on server B over the same bucket: at most the missing bytes, a batch and a part resent', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-cut-');
  const clientIdentity = generateKeyPair();
  const store = storeAt(s, 'cut/');
  const batchBytes = 4 * MIB;
  const servers = await startServerPair(s, dir, 'cut/', { durableBatchBytes: batchBytes });
  const serverKey = servers[0]!.publicKey;
  const aLetGo = new Promise<void>((resolve) => servers[0]!.events.once('session-closed', () => resolve()));
  const balancer = await SwitchProxy.start(servers.map((server) => server.address));
  const cutAt = 16 * MIB;
  const proxy = await FaultProxy.start({
    target: balancer.address,
    plan: (index) => (index === 0 ? { cut: { afterBytes: cutAt } } : undefined),
  });
  t.after(async () => {
    await proxy.close();
    await balancer.close();
    for (const server of servers) await server.close();
    await removeTempDir(dir);
  });
  const size = 24 * MIB;
  const source = join(dir, 'big.bin');
  await writeRandomFile(source, size);
  await sendFiles({
    server: proxy.address,
    files: [source],
    identity: clientIdentity,
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverKey)),
    chunkBytes: MIB,
    // The retry goes once server A has let the transfer go (its session closed, its partial closed): what
    // --coordination etcd enforces (test/coordination/cluster-takeover.test.ts); these servers run without
    // it, so B could otherwise resume from less than A is still making durable, which costs bytes but never
    // correctness (every held chunk is re-verified).
    retry: { retries: 2, random: () => 0, sleep: () => aLetGo },
  });
  assert.equal(proxy.connections.length, 2, 'one cut, one resumed session');
  assert.deepEqual(balancer.routed, [0, 1], 'cut on server A, resumed on server B');
  const first = proxy.connections[0]!.bytes.clientToServer;
  const second = proxy.connections[1]!.bytes.clientToServer;
  const bound = size - first + batchBytes + new PartLayout(size, MIB).partBytes + 64 * 1024;
  t.diagnostic(`cut after ${first} bytes; the resumed session sent ${second} (bound ${bound}, file ${size})`);
  assert.ok(second <= bound, `resent ${second} bytes, at most ${bound} (a fresh upload is ${size})`);
  const placed = await readObject(s, 'cut/big.bin');
  assert.ok(placed?.bytes.equals(await readFile(source)), 'the object read back is the file');
  assert.deepEqual(await store.list(), [], 'no partial left');
});

test('through HAProxy: server A stopped at half an upload, the retry lands on server B and resumes from what A made durable', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-haproxy-');
  const batchBytes = 4 * MIB;
  const servers = await startServerPair(s, dir, 'ha/', { durableBatchBytes: batchBytes });
  const serverKey = servers[0]!.publicKey;
  const [a, b] = servers as [FerryServer, FerryServer];
  const haproxy = await startHaproxy(servers.map((server) => server.address));
  t.after(async () => {
    await haproxy.stop();
    for (const server of servers) await server.close();
    await removeTempDir(dir);
  });
  const size = 24 * MIB;
  const source = join(dir, 'big.bin');
  await writeRandomFile(source, size);
  // Server A goes away once it has reported half the file durable (its last PROGRESS is what it vouched for).
  let durableOnA = 0;
  const aStopped = new Promise<void>((resolve) => {
    a.events.on('progress', (event) => {
      durableOnA = Math.max(durableOnA, event.verifiedBytes);
      if (event.verifiedBytes >= size / 2) void a.close().then(resolve);
    });
  });
  const started: Array<{ server: string; heldBytes: number }> = [];
  a.events.on('transfer-started', (e) => started.push({ server: 'a', heldBytes: e.heldBytes }));
  b.events.on('transfer-started', (e) => started.push({ server: 'b', heldBytes: e.heldBytes }));
  let receivedOnB = 0;
  b.events.on('transfer-finished', (e) => (receivedOnB = e.transferredBytes));
  await sendFiles({
    server: { host: haproxy.host, port: haproxy.port },
    files: [source],
    identity: generateKeyPair(),
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverKey)),
    chunkBytes: MIB,
    retry: { retries: 3, random: () => 0, sleep: () => aStopped },
  });
  assert.deepEqual(
    started.map((e) => e.server),
    ['a', 'b'],
    'started on A, resumed on B',
  );
  const held = started[1]!.heldBytes;
  t.diagnostic(`A vouched for ${durableOnA} bytes; B resumed holding ${held} and received ${receivedOnB}`);
  assert.ok(held >= durableOnA, `B holds ${held}, at least the ${durableOnA} A reported durable`);
  assert.equal(receivedOnB, size - held, 'B received exactly the missing bytes');
  const placed = await readObject(s, 'ha/big.bin');
  assert.ok(placed?.bytes.equals(await readFile(source)), 'the object read back is the file');
});

test('ObjectSource hashes a chunk with the v2 chunk hash, over ranged GETs smaller than the chunk', async () => {
  const s = swift();
  // Chunks of 2 MiB are read in 1 MiB GETs; the last chunk is short and not a whole number of leaves.
  const chunkBytes = 2 * MIB;
  const content = randomBytes(2 * chunkBytes + 70_000);
  await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'hash/data.bin', Body: content }));
  const source = await ObjectSource.open(s.client, s.bucket, 'hash/data.bin');
  for (const index of [0, 1, 2]) {
    const bytes = content.subarray(index * chunkBytes, (index + 1) * chunkBytes);
    assert.ok(
      (await source.chunkHash(index, chunkBytes)).equals(chunkHashOf(bytes)),
      `chunk ${index} hashes as the client hashes it (a held claim on resume is checked against it)`,
    );
  }
});

test('a download from an object store cut at half resumes: the rest comes in ranged GETs, the file is exact', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-get-');
  const serverIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    objectStore: storeAt(s, 'dl/'),
  });
  const size = 12 * MIB;
  const proxy = await FaultProxy.start({
    target: server.address,
    plan: (index) =>
      index === 0 ? { cut: { afterBytes: size / 2, direction: 'serverToClient' } } : undefined,
  });
  t.after(async () => {
    await proxy.close();
    await server.close();
    await removeTempDir(dir);
  });
  const content = randomBytes(size);
  await s.client.send(
    new PutObjectCommand({
      Bucket: s.bucket,
      Key: 'dl/data.bin',
      Body: content,
      Metadata: { [MODE_METADATA]: '640', [MTIME_METADATA]: '1700000000000' },
    }),
  );
  const into = join(dir, 'got');
  await getFiles({
    server: proxy.address,
    remotePaths: ['data.bin'],
    localDir: into,
    identity: generateKeyPair(),
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
    chunkBytes: MIB,
    retry: { retries: 2, random: () => 0, sleep: () => Promise.resolve() },
  });
  assert.ok((await readFile(join(into, 'data.bin'))).equals(content), 'the file got is the object');
  assert.equal(
    (await stat(join(into, 'data.bin'))).mtimeMs,
    1_700_000_000_000,
    'its mtime from the metadata',
  );
  assert.equal(proxy.connections.length, 2, 'one cut, one resumed session');
  const second = proxy.connections[1]!.bytes.serverToClient;
  t.diagnostic(`cut after ${size / 2} bytes down; the resumed session brought ${second}`);
  assert.ok(second <= size / 2 + 2 * MIB, `resumed with ${second} bytes, the rest of ${size} and a little`);
});

test('ferry serve with an object store: a tree of small files sent in batches lands as objects, exact, none under the root; not clobbered unless OVERWRITE', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-batch-');
  const serverIdentity = generateKeyPair();
  const clientIdentity = generateKeyPair();
  const store = storeAt(s, 'batched/');
  const root = join(dir, 'root');
  const server = await FerryServer.start({
    root,
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    objectStore: store,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  // 20 small files (0 bytes to 30 KiB, batched: PROTOCOL.md §5.14) in two directories, and one of 100 KiB
  // that goes the one-file way.
  const tree = join(dir, 'tree');
  const small = Array.from({ length: 20 }, (_, i) => (i < 10 ? `a/f${i}` : `b/c/f${i}`));
  const sizeOf = (i: number): number => (i === 0 ? 0 : i * 1536 + 7);
  const files = [
    ...small.map((name, i) => ({ name, size: sizeOf(i) })),
    { name: 'big.bin', size: 100 * 1024 },
  ];
  const write = async (seed: string): Promise<Map<string, Buffer>> => {
    const contents = new Map<string, Buffer>();
    for (const { name, size } of files) {
      const bytes = Buffer.alloc(size, `${seed}:${name}|`);
      await mkdir(join(tree, name, '..'), { recursive: true });
      await writeFile(join(tree, name), bytes);
      contents.set(name, bytes);
    }
    return contents;
  };
  const send = async (overwrite: boolean, events: TransferEvent[] = []): Promise<unknown> =>
    sendPaths({
      server: server.address,
      paths: [tree],
      remotePath: '',
      recursive: true,
      identity: clientIdentity,
      verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
      overwrite,
      onEvent: (e) => events.push(e),
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    });
  const assertObjectsHold = async (contents: Map<string, Buffer>, why: string): Promise<void> => {
    for (const [name, bytes] of contents) {
      const placed = await readObject(s, `batched/tree/${name}`);
      assert.ok(placed, `${name}: the object exists (${why})`);
      assert.ok(placed.bytes.equals(bytes), `${name}: the object holds the bytes sent (${why})`);
    }
  };

  const first = await write('one');
  await send(false);
  await assertObjectsHold(first, 'first send');
  const placed = await readObject(s, 'batched/tree/a/f3');
  assert.equal(placed?.mode, receivedFileMode((await stat(join(tree, 'a/f3'))).mode & 0o7777), 'mode kept');
  assert.equal(placed?.mtimeMs, Math.trunc((await stat(join(tree, 'a/f3'))).mtimeMs), 'mtime kept');
  assert.deepEqual(await store.list(), [], 'no partial left in the store');
  // Nothing of the tree on the server's disk: its root holds only the server's own state.
  assert.deepEqual(await readdir(root), ['.ferry']);
  const state = await readdir(join(root, '.ferry'), { recursive: true });
  assert.ok(
    state.every((entry) => !entry.includes('tree') && !entry.startsWith('batch-')),
    `no file of the tree under .ferry: ${state.join(', ')}`,
  );

  // Sent again unchanged: every object is read back, compared and found IDENTICAL (nothing written).
  const unchanged: TransferEvent[] = [];
  await send(false, unchanged);
  const skipped = unchanged.filter((e) => e.type === 'transfer-finished');
  assert.equal(skipped.length, files.length);
  assert.ok(skipped.every((e) => e.type === 'transfer-finished' && e.identical));
  await assertObjectsHold(first, 'after the identical send');

  // Changed locally, sent again without OVERWRITE: every file is refused FILE_EXISTS, as an existing object
  // is on the one-file path, and every object keeps what it held.
  await write('two');
  const events: TransferEvent[] = [];
  await assert.rejects(send(false, events), { code: 'FILE_EXISTS' });
  const failed = events.filter((e) => e.type === 'transfer-failed');
  assert.deepEqual(
    failed.map((e) => [e.remotePath, e.code]).sort(),
    files
      .filter(({ size }) => size > 0)
      .map(({ name }) => [`tree/${name}`, 'FILE_EXISTS'])
      .sort(),
  );
  // The empty file is the same whatever the seed: IDENTICAL.
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'transfer-finished' ? [[e.remotePath, e.identical]] : [])),
    [['tree/a/f0', true]],
  );
  await assertObjectsHold(first, 'after the refused send');

  const second = await write('two');
  await send(true);
  await assertObjectsHold(second, 'after OVERWRITE');
  assert.deepEqual(await readdir(root), ['.ferry']);

  // Got back with `get -r`: the small objects in batches (PROTOCOL.md §5.20), read as GET_REQUEST reads one.
  const back = join(dir, 'back');
  const downloadRefs: number[] = [];
  server.events.on('transfer-finished', (event) => {
    if (event.transfer.direction === 'download') downloadRefs.push(event.transfer.ref);
  });
  await getFiles({
    server: server.address,
    identity: clientIdentity,
    verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
    retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    remotePaths: ['tree'],
    localDir: back,
    recursive: true,
  });
  for (const [name, bytes] of second) {
    assert.ok((await readFile(join(back, 'tree', name))).equals(bytes), `${name}: got back exact`);
    assert.equal(
      Math.trunc((await stat(join(back, 'tree', name))).mtimeMs),
      Math.trunc((await stat(join(tree, name))).mtimeMs),
      `${name}: mtime kept`,
    );
  }
  // The 20 small files under one ref (one GET_BATCH), the large one under its own.
  assert.equal(downloadRefs.length, files.length);
  assert.equal(new Set(downloadRefs).size, 2);
});

test('ferry serve with an object store: a batch entry whose digest does not match is refused DIGEST_MISMATCH and leaves no object', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-digest-');
  const clientIdentity = generateKeyPair();
  const store = storeAt(s, 'digest/');
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    partialSweepIntervalMs: 0,
    objectStore: store,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const channel = await openAdmittedSession(t, server.address, clientIdentity);
  const good = Buffer.from('good bytes');
  const bad = Buffer.from('bad bytes');
  const entry = (path: string, data: Buffer) => ({
    size: data.length,
    mtimeMs: 1,
    mode: 0o644,
    // Both carry the good bytes' digest: the second as a corrupted entry would.
    fileDigest: smallFileDigest(good, DEFAULT_CHUNK_BYTES),
    path,
    data,
  });
  await channel.send({
    type: 'PUT_BATCH',
    ref: 1,
    overwrite: false,
    chunkBytes: DEFAULT_CHUNK_BYTES,
    entries: [entry('d/good', good), entry('d/bad', bad)],
  });
  await channel.send({ type: 'BATCH_END', ref: 1, totalEntries: 2 });
  const done = (await channel.receive()) as BatchDoneMessage;
  assert.equal(done.type, 'BATCH_DONE');
  assert.deepEqual(done.results[0], { status: 'placed' });
  assert.equal(done.results[1]!.status, 'refused');
  assert.equal(codeFromWire((done.results[1] as { code: number }).code), 'DIGEST_MISMATCH');
  assert.ok((await readObject(s, 'digest/d/good'))?.bytes.equals(good));
  assert.equal(await readObject(s, 'digest/d/bad'), undefined, 'nothing of the bad entry is in the store');
  assert.deepEqual(await store.list(), [], 'and no partial of it');
  assert.deepEqual(await readdir(join(dir, 'root')), ['.ferry']);
});

test('an upload-only client re-sending what it placed gets IDENTICAL from any server (the object carries its transfer id); another client gets FILE_EXISTS', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-placed-');
  // Two servers on one store, upload only: the second recognises what the first placed.
  const servers = await startServerPair(s, dir, 'placed/');
  const serverKey = servers[0]!.publicKey;
  t.after(async () => {
    for (const server of servers) await server.close();
    await removeTempDir(dir);
  });
  const big = join(dir, 'big.bin');
  await writeRandomFile(big, 6 * MIB + 5);
  const small = join(dir, 'small.txt');
  await writeFile(small, 'a small file, sent in a batch\n');
  const owner = generateKeyPair();
  const send = async (server: FerryServer, identity: typeof owner): Promise<TransferEvent[]> => {
    const events: TransferEvent[] = [];
    await sendPaths({
      server: server.address,
      paths: [big, small],
      remotePath: '',
      identity,
      verifyServer: (key: Buffer) => assert.ok(key.equals(serverKey)),
      chunkBytes: MIB,
      onEvent: (e) => events.push(e),
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    });
    return events;
  };
  const identicalOf = (events: TransferEvent[]): Array<[string, boolean]> =>
    events
      .flatMap((e) =>
        e.type === 'transfer-finished' ? [[e.remotePath, e.identical] as [string, boolean]] : [],
      )
      .sort();
  assert.deepEqual(identicalOf(await send(servers[0]!, owner)), [
    ['big.bin', false],
    ['small.txt', false],
  ]);
  assert.deepEqual(
    identicalOf(await send(servers[1]!, owner)),
    [
      ['big.bin', true],
      ['small.txt', true],
    ],
    'the same client, through the other server: IDENTICAL, nothing sent',
  );
  const object = await readObject(s, 'placed/big.bin');
  assert.ok(object?.bytes.equals(await readFile(big)));
  const stranger: TransferEvent[] = [];
  await assert.rejects(
    sendPaths({
      server: servers[1]!.address,
      paths: [big, small],
      remotePath: '',
      identity: generateKeyPair(),
      verifyServer: (key: Buffer) => assert.ok(key.equals(serverKey)),
      chunkBytes: MIB,
      onEvent: (e) => stranger.push(e),
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    }),
    { code: 'FILE_EXISTS' },
  );
  assert.deepEqual(
    stranger.flatMap((e) => (e.type === 'transfer-failed' ? [[e.remotePath, e.code]] : [])).sort(),
    [
      ['big.bin', 'FILE_EXISTS'],
      ['small.txt', 'FILE_EXISTS'],
    ],
    'another upload-only client learns only that the paths exist',
  );
});

test('a link sent to an object-store server is refused with PERMISSION_DENIED; the files beside it land', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-link-');
  const serverIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    objectStore: storeAt(s, 'links/'),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await writeFile(join(tree, 'file.txt'), 'beside the link\n');
  await symlink('file.txt', join(tree, 'link'));
  const events: TransferEvent[] = [];
  await assert.rejects(
    sendPaths({
      server: server.address,
      paths: [tree],
      remotePath: '',
      recursive: true,
      identity: generateKeyPair(),
      verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey)),
      onEvent: (e) => events.push(e),
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    }),
    { code: 'PERMISSION_DENIED' },
  );
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'entry-failed' ? [[e.kind, e.remotePath, e.code]] : [])),
    [['link', 'tree/link', 'PERMISSION_DENIED']],
  );
  assert.equal((await readObject(s, 'links/tree/file.txt'))?.bytes.toString(), 'beside the link\n');
  assert.equal(await readObject(s, 'links/tree/link'), undefined, 'no object for the link');
});
