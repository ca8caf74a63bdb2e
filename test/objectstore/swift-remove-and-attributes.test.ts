// REMOVE_REQUEST (PROTOCOL.md §5.16) and SET_ATTRIBUTES (§5.19) on an object store, against a real OpenStack
// Swift (s3api) on loopback: the store's half (one key deleted and no other, a prefix refused as a non-empty
// directory, an upload in flight to a removed path left whole, metadata rewritten by a copy onto itself and
// bound to the version checked, also on an object Swift assembled from parts), what a listing then reports,
// and the server's half over raw sessions (the permission and path checks of the disk path, per ref).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ERROR_CODES } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD, chunkHashOf } from '../../src/protocol/index.js';
import { verifyLoggedChunks } from '../../src/transfer/index.js';
import { FerryServer } from '../../src/server/index.js';
import { MODE_METADATA, MTIME_METADATA, S3PartialStore, s3StoreClient } from '../../src/objectstore/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { useSwiftNode, type SwiftForTests } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const MIB = 1024 * 1024;

async function put(s: SwiftForTests, key: string, body: string | Buffer, metadata?: Record<string, string>) {
  await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body, Metadata: metadata }));
}

/** An object Swift assembles from two parts (an SLO behind s3api), as `finish` places a large file. */
async function putInParts(s: SwiftForTests, key: string, body: Buffer, metadata: Record<string, string>) {
  const { client, bucket } = s;
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: metadata }),
  );
  const parts = [];
  for (const [i, bytes] of [body.subarray(0, 5 * MIB), body.subarray(5 * MIB)].entries()) {
    const { ETag } = await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: bytes }),
    );
    parts.push({ PartNumber: i + 1, ETag });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}

async function read(s: SwiftForTests, key: string) {
  try {
    const out = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    return { bytes: Buffer.from(await out.Body!.transformToByteArray()), metadata: out.Metadata ?? {} };
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

async function etagOf(s: SwiftForTests, key: string): Promise<string | undefined> {
  return (await s.client.send(new HeadObjectCommand({ Bucket: s.bucket, Key: key }))).ETag;
}

test('removeEntry deletes the one object named, refuses a prefix that holds keys, and answers nothing for an absent name', async () => {
  const s = swift();
  const store = new S3PartialStore(s.client, { bucket: s.bucket, prefix: 'rm/' });
  for (const key of ['rm/a', 'rm/ab', 'rm/a.txt', 'rm/d/x', 'rm/d/y/z', 'rm/.ferry/partial/k.state'])
    await put(s, key, key);

  assert.equal(await store.removeEntry('a'), 'file');
  assert.equal(await read(s, 'rm/a'), undefined, 'the object is gone');
  for (const key of ['rm/ab', 'rm/a.txt'])
    assert.equal((await read(s, key))?.bytes.toString(), key, `${key}: a key sharing the name's start stays`);

  await assert.rejects(store.removeEntry('d'), { code: 'PATH_INVALID' }, 'a prefix holding keys');
  await assert.rejects(store.removeEntry('d/y'), { code: 'PATH_INVALID' });
  assert.equal(
    (await read(s, 'rm/d/y/z'))?.bytes.toString(),
    'rm/d/y/z',
    'nothing under a refused prefix goes',
  );

  // Bottom-up, as `sync --delete` removes a tree: each directory is gone with its last file.
  assert.equal(await store.removeEntry('d/y/z'), 'file');
  assert.equal(await store.removeEntry('d/y'), 'nothing', 'the emptied directory is no key at all');
  assert.equal(await store.removeEntry('d/x'), 'file');
  assert.equal(await store.removeEntry('d'), 'nothing');
  assert.equal(await store.statFile('d'), undefined);
  assert.equal(await store.removeEntry('never'), 'nothing');
  assert.ok(await read(s, 'rm/.ferry/partial/k.state'), "the server's own state is untouched");
});

test('a removal of a path whose upload is in flight leaves the partial whole: resumed from its log, the upload places its object exact', async () => {
  const s = swift();
  const store = new S3PartialStore(s.client, { bucket: s.bucket, prefix: 'flight/' });
  await put(s, 'flight/f.bin', 'the old object\n');
  const chunkBytes = MIB;
  const content = randomBytes(6 * MIB + 5); // two parts: 5 MiB and the rest
  const header = { size: content.length, mtimeMs: 1_700_000_000_000, chunkBytes };
  const entries = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => ({
      index: from + i,
      hash: chunkHashOf(content.subarray((from + i) * chunkBytes, (from + i + 1) * chunkBytes)),
    }));
  const first = await store.open('upload-f', header, { fresh: true, keepLog: true });
  await first.write(0, content.subarray(0, 5 * MIB));
  await first.makeDurable(entries(0, 5));
  await first.close();

  assert.equal(await store.removeEntry('f.bin'), 'file', 'the old object goes');
  assert.equal(await store.removeEntry('f.bin'), 'nothing');

  const resumed = await store.open('upload-f', header, { fresh: false, keepLog: true });
  assert.equal(resumed.resumed, true, 'the partial is still there');
  await resumed.resetLog(await verifyLoggedChunks(resumed, resumed.logged, header));
  await resumed.write(5 * MIB, content.subarray(5 * MIB));
  await resumed.makeDurable(entries(5, 7));
  await resumed.finish(store.targetOf('f.bin'), { mode: 0o644, mtimeMs: header.mtimeMs, overwrite: false });
  assert.ok((await read(s, 'flight/f.bin'))?.bytes.equals(content), 'the upload placed its object whole');
});

test('setAttributes rewrites mode and mtime by a copy onto itself: content, ETag and the placing transfer kept; listed so', async () => {
  const s = swift();
  const store = new S3PartialStore(s.client, { bucket: s.bucket, prefix: 'attr/' });
  const placed = {
    [MODE_METADATA]: '644',
    [MTIME_METADATA]: '1700000000000',
    'ferry-transfer': 'ab'.repeat(16),
  };
  await put(s, 'attr/one.txt', 'one object\n', placed);
  const large = Buffer.alloc(5 * MIB + 4321, 7);
  await putInParts(s, 'attr/dir/large.bin', large, placed);
  await put(s, 'attr/foreign.txt', 'put by another tool\n');
  const before = { one: await etagOf(s, 'attr/one.txt'), large: await etagOf(s, 'attr/dir/large.bin') };

  await store.setAttributes('one.txt', { mode: 0o600, mtimeMs: 1_600_000_000_123 });
  // Swift cannot check the ETag of an object it assembled from parts: the Last-Modified bound is used.
  await store.setAttributes('dir/large.bin', { mode: 0o755, mtimeMs: 1_500_000_000_000 });
  await store.setAttributes('foreign.txt', { mode: 0o640, mtimeMs: 1_400_000_000_000 });

  const one = await read(s, 'attr/one.txt');
  assert.equal(one?.bytes.toString(), 'one object\n');
  assert.deepEqual(one?.metadata, {
    [MODE_METADATA]: '600',
    [MTIME_METADATA]: '1600000000123',
    'ferry-transfer': 'ab'.repeat(16),
  });
  const big = await read(s, 'attr/dir/large.bin');
  assert.ok(big?.bytes.equals(large), 'the large object is intact');
  assert.equal(big?.metadata[MODE_METADATA], '755');
  assert.equal(big?.metadata['ferry-transfer'], 'ab'.repeat(16));
  assert.deepEqual(
    { one: await etagOf(s, 'attr/one.txt'), large: await etagOf(s, 'attr/dir/large.bin') },
    before,
    'the same content, the same ETag',
  );

  assert.deepEqual(
    (await store.listFiles('', true)).map((e) => [e.kind, e.path, e.size, e.mode.toString(8), e.mtimeMs]),
    [
      ['dir', 'dir', 0, '755', 0],
      ['file', 'dir/large.bin', large.length, '755', 1_500_000_000_000],
      ['file', 'foreign.txt', 20, '640', 1_400_000_000_000],
      ['file', 'one.txt', 11, '600', 1_600_000_000_123],
    ],
    'a listing reports the metadata, as a download does',
  );
  assert.equal((await store.statFile('one.txt'))?.mtimeMs, 1_600_000_000_123);

  await assert.rejects(store.setAttributes('dir', { mode: 0o600, mtimeMs: 1 }), { code: 'PATH_INVALID' });
  await assert.rejects(store.setAttributes('none', { mode: 0o600, mtimeMs: 1 }), { code: 'PATH_NOT_FOUND' });
});

test('setAttributes on an object replaced between its HEAD and the copy fails SOURCE_CHANGED and leaves the new one as placed', async () => {
  const s = swift();
  // A store of its own client, so the replacement can be slipped in right before its copy goes out.
  const client = s3StoreClient({
    endpoint: s.node.endpoint,
    region: s.node.region,
    credentials: { accessKeyId: s.node.accessKeyId, secretAccessKey: s.node.secretAccessKey },
  });
  try {
    const store = new S3PartialStore(client, { bucket: s.bucket, prefix: 'race/' });
    await put(s, 'race/f.txt', 'old content\n', { [MODE_METADATA]: '644', [MTIME_METADATA]: '1' });
    let replaced = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CopyObjectCommand' && replaced++ === 0)
          await put(s, 'race/f.txt', 'new content placed meanwhile\n', {
            [MODE_METADATA]: '640',
            [MTIME_METADATA]: '2',
          });
        return next(args);
      },
      { step: 'initialize', name: 'replaceBeforeCopy' },
    );
    await assert.rejects(store.setAttributes('f.txt', { mode: 0o600, mtimeMs: 3 }), {
      code: 'SOURCE_CHANGED',
    });
    assert.equal(replaced, 1, 'one copy was tried, and refused by the store');
    const now = await read(s, 'race/f.txt');
    assert.equal(now?.bytes.toString(), 'new content placed meanwhile\n');
    assert.deepEqual(now?.metadata, { [MODE_METADATA]: '640', [MTIME_METADATA]: '2' }, 'its own attributes');
  } finally {
    client.destroy();
  }
});

test('a server on an object store: REMOVE_REQUEST and SET_ATTRIBUTES with the checks of the disk path, per ref', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-objectstore-remove-');
  const writer = generateKeyPair();
  const reader = generateKeyPair();
  const confined = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      key.equals(writer.publicKey)
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : key.equals(reader.publicKey)
          ? { permissions: PERMISSION_DOWNLOAD }
          : key.equals(confined.publicKey)
            ? { permissions: PERMISSION_UPLOAD, root: 'jail' }
            : undefined,
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(s.client, { bucket: s.bucket, prefix: 'srv/' }),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  for (const key of ['srv/file.txt', 'srv/full/inside.txt', 'srv/jail/mine.txt', 'srv/keep.txt'])
    await put(s, key, key, { [MODE_METADATA]: '644', [MTIME_METADATA]: '1000' });
  await put(s, 'srv/.ferry/partial/x.state', '{}');

  const guest = await openAdmittedSession(t, server.address, reader);
  await guest.send({ type: 'REMOVE_REQUEST', ref: 1, path: 'file.txt' });
  await guest.send({ type: 'SET_ATTRIBUTES', ref: 2, path: 'file.txt', mode: 0o600, mtimeMs: 5 });
  for (const ref of [1, 2]) {
    const refused = await guest.receive();
    assert.deepEqual(
      refused.type === 'ERROR' ? [refused.ref, refused.code] : refused,
      [ref, ERROR_CODES.PERMISSION_DENIED.wire],
      'a client without the upload permission changes nothing',
    );
  }
  assert.ok(await read(s, 'srv/file.txt'));
  assert.equal((await read(s, 'srv/file.txt'))?.metadata[MODE_METADATA], '644');
  guest.close();

  const channel = await openAdmittedSession(t, server.address, writer);
  type Answer = 'ACK' | keyof typeof ERROR_CODES;
  const cases: Array<[type: 'REMOVE_REQUEST' | 'SET_ATTRIBUTES', path: string, answer: Answer]> = [
    ['SET_ATTRIBUTES', 'keep.txt', 'ACK'],
    ['SET_ATTRIBUTES', 'full', 'PATH_INVALID'],
    ['SET_ATTRIBUTES', 'missing.txt', 'PATH_NOT_FOUND'],
    ['SET_ATTRIBUTES', '.ferry/partial/x.state', 'PATH_INVALID'],
    ['REMOVE_REQUEST', 'file.txt', 'ACK'],
    ['REMOVE_REQUEST', 'full', 'PATH_INVALID'],
    ['REMOVE_REQUEST', '../srv/keep.txt', 'PATH_INVALID'],
    ['REMOVE_REQUEST', '.ferry/partial/x.state', 'PATH_INVALID'],
    ['REMOVE_REQUEST', 'full/inside.txt', 'ACK'],
    ['REMOVE_REQUEST', 'full', 'ACK'],
  ];
  // Pipelined: answered in arrival order (§6.1), each refusal for its own ref alone.
  for (const [i, [type, path]] of cases.entries())
    await channel.send(
      type === 'REMOVE_REQUEST'
        ? { type, ref: i + 1, path }
        : { type, ref: i + 1, path, mode: 0o4777, mtimeMs: 1_650_000_000_000 },
    );
  for (const [i, [type, path, answer]] of cases.entries()) {
    const reply = await channel.receive();
    const got =
      reply.type === 'ACK' ? ['ACK', reply.ref] : reply.type === 'ERROR' ? [reply.code, reply.ref] : [reply];
    assert.deepEqual(got, [answer === 'ACK' ? 'ACK' : ERROR_CODES[answer].wire, i + 1], `${type} ${path}`);
  }
  assert.equal(await read(s, 'srv/file.txt'), undefined);
  assert.equal(await read(s, 'srv/full/inside.txt'), undefined);
  const kept = await read(s, 'srv/keep.txt');
  assert.equal(kept?.bytes.toString(), 'srv/keep.txt', 'nothing outside the named paths is removed');
  // The mode narrowed as a received file's (§5.3: no setuid, at most 0o755), the mtime as sent.
  assert.deepEqual(kept?.metadata, { [MODE_METADATA]: '755', [MTIME_METADATA]: '1650000000000' });
  assert.ok(await read(s, 'srv/.ferry/partial/x.state'), "the server's state is never a client's to remove");
  channel.close();

  const jailed = await openAdmittedSession(t, server.address, confined);
  await jailed.send({ type: 'SET_ATTRIBUTES', ref: 1, path: 'mine.txt', mode: 0o4700, mtimeMs: 7 });
  await jailed.send({ type: 'SET_ATTRIBUTES', ref: 2, path: 'keep.txt', mode: 0o600, mtimeMs: 7 });
  await jailed.send({ type: 'REMOVE_REQUEST', ref: 3, path: 'keep.txt' });
  const answers = [];
  for (let i = 0; i < 3; i++) {
    const reply = await jailed.receive();
    answers.push(
      reply.type === 'ERROR' ? [reply.ref, reply.code] : [reply.type === 'ACK' ? reply.ref : -1, 'ACK'],
    );
  }
  // keep.txt lies outside the client's root: under that root there is no such name, and nothing changes
  // (a removal finding nothing is acknowledged on an object store, §5.16).
  assert.deepEqual(answers, [
    [1, 'ACK'],
    [2, ERROR_CODES.PATH_NOT_FOUND.wire],
    [3, 'ACK'],
  ]);
  assert.deepEqual(
    (await read(s, 'srv/keep.txt'))?.metadata[MODE_METADATA],
    '755',
    'untouched by the jailed client',
  );
  assert.deepEqual((await read(s, 'srv/jail/mine.txt'))?.metadata, {
    [MODE_METADATA]: '700',
    [MTIME_METADATA]: '7',
  });
});
