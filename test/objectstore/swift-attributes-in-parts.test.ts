// SET_ATTRIBUTES (PROTOCOL.md §5.19) on an object above the store's limit on one copy (S3: 5 GiB), against a
// real OpenStack Swift (s3api) on loopback with the limit injected small: the metadata is rewritten by a
// multipart upload of part copies (UploadPartCopy) onto the same key, the bytes unchanged, bound to the version
// the HEAD saw (an object replaced before the part copies or before the completion keeps its own bytes and
// attributes: SOURCE_CHANGED), also on an object Swift assembled from parts, and no upload is left behind.
// Requests are counted by the store client's own middleware, one per HTTP request sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  MAX_COPY_OBJECT_BYTES,
  MIN_PART_BYTES,
  MODE_METADATA,
  MTIME_METADATA,
  S3PartialStore,
  s3StoreClient,
  selfCopyPartBytes,
} from '../../src/objectstore/index.js';
import { useSwiftNode, type SwiftForTests } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const MIB = 1024 * 1024;
/**
 * Above 5 MiB an object is copied in parts of 5 MiB (S3's smallest part): 10 MiB + 17 is three parts, the last
 * 17 bytes. Small, so the file stays quick on a loaded machine (every byte goes through Swift's fsync).
 */
const LIMITS = { copyLimitBytes: 5 * MIB, partBytes: MIN_PART_BYTES };
const SIZE = 10 * MIB + 17;

/**
 * A store on a client of its own whose requests are counted by command, and which runs `before[command]`
 * (once) right before that command's first request goes out: the replacement a race would bring.
 */
function countedStore(s: SwiftForTests, prefix: string) {
  const client = s3StoreClient({
    endpoint: s.node.endpoint,
    region: s.node.region,
    credentials: { accessKeyId: s.node.accessKeyId, secretAccessKey: s.node.secretAccessKey },
  });
  const counts = new Map<string, number>();
  const before = new Map<string, () => Promise<void>>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unnamed';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      const hook = before.get(name);
      before.delete(name);
      if (hook) await hook();
      return next(args);
    },
    { step: 'initialize', name: 'countAndHook' },
  );
  const store = new S3PartialStore(client, { bucket: s.bucket, prefix }, { selfCopy: LIMITS });
  return { client, store, counts, before };
}

async function put(s: SwiftForTests, key: string, body: Buffer, metadata: Record<string, string>) {
  await s.client.send(
    new PutObjectCommand({
      Bucket: s.bucket,
      Key: key,
      Body: body,
      Metadata: metadata,
      ContentType: 'text/x-kept',
    }),
  );
}

/** An object Swift assembles from parts (an SLO behind s3api), as ferry's own uploads place large files. */
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
  const out = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
  return {
    bytes: Buffer.from(await out.Body!.transformToByteArray()),
    metadata: out.Metadata ?? {},
    contentType: out.ContentType,
  };
}

async function uploadsUnder(client: S3Client, bucket: string, prefix: string): Promise<number> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return out.Uploads?.length ?? 0;
}

test('the part size is the asked one, raised to fit 10,000 parts, within S3 part bounds', () => {
  const limits = { copyLimitBytes: MAX_COPY_OBJECT_BYTES, partBytes: 1024 ** 3 };
  assert.equal(selfCopyPartBytes(6 * 1024 ** 3, limits), 1024 ** 3);
  assert.equal(selfCopyPartBytes(20_000 * 1024 ** 3, limits), 2 * 1024 ** 3, '20,000 GiB in 10,000 parts');
  assert.equal(selfCopyPartBytes(1, { ...limits, partBytes: 1 }), MIN_PART_BYTES);
  assert.equal(selfCopyPartBytes(1, { ...limits, partBytes: 8 * 1024 ** 3 }), MAX_COPY_OBJECT_BYTES);
});

test('setAttributes above the copy limit rewrites mode and mtime by part copies onto the same key: bytes, other metadata and content type kept; below it one CopyObject', async () => {
  const s = swift();
  const { client, store, counts } = countedStore(s, 'parts/');
  try {
    const body = randomBytes(SIZE);
    await put(s, 'parts/big.bin', body, {
      [MODE_METADATA]: '644',
      [MTIME_METADATA]: '1',
      'ferry-transfer': 'abc',
    });
    await put(s, 'parts/small.bin', body.subarray(0, 5 * MIB), {
      [MODE_METADATA]: '644',
      [MTIME_METADATA]: '1',
    });

    counts.clear();
    await store.setAttributes('big.bin', { mode: 0o600, mtimeMs: 1_600_000_000_123 });
    assert.equal(counts.get('UploadPartCopyCommand'), 3, 'three part copies: 5 MiB, 5 MiB, 17 bytes');
    assert.equal(counts.get('CopyObjectCommand') ?? 0, 0, 'no single copy above the limit');
    assert.equal(counts.get('CreateMultipartUploadCommand'), 1);
    const big = await read(s, 'parts/big.bin');
    assert.ok(big.bytes.equals(body), 'the bytes are the object as it was');
    assert.deepEqual(big.metadata, {
      [MODE_METADATA]: '600',
      [MTIME_METADATA]: '1600000000123',
      'ferry-transfer': 'abc',
    });
    assert.equal(big.contentType, 'text/x-kept');
    const listed = (await store.listFiles('', false)).find((e) => e.path === 'big.bin');
    assert.deepEqual([listed?.mode, listed?.mtimeMs, listed?.size], [0o600, 1_600_000_000_123, SIZE]);

    counts.clear();
    await store.setAttributes('small.bin', { mode: 0o640, mtimeMs: 2 });
    assert.equal(counts.get('CopyObjectCommand'), 1, 'at the limit: one CopyObject');
    assert.equal(counts.get('UploadPartCopyCommand') ?? 0, 0);
    assert.equal((await read(s, 'parts/small.bin')).metadata[MODE_METADATA], '640');
    assert.equal(await uploadsUnder(client, s.bucket, 'parts/'), 0, 'no multipart upload left');
  } finally {
    client.destroy();
  }
});

test('setAttributes in parts on an object Swift assembled from parts: bound by time where the store cannot check its ETag', async () => {
  const s = swift();
  const { client, store, counts } = countedStore(s, 'slo/');
  try {
    const body = randomBytes(SIZE);
    await putInParts(s, 'slo/big.bin', body, { [MODE_METADATA]: '644', [MTIME_METADATA]: '1' });
    counts.clear();
    await store.setAttributes('big.bin', { mode: 0o700, mtimeMs: 5 });
    const big = await read(s, 'slo/big.bin');
    assert.ok(big.bytes.equals(body), 'the bytes are the object as it was');
    assert.deepEqual(big.metadata, { [MODE_METADATA]: '700', [MTIME_METADATA]: '5' });
    assert.ok((counts.get('UploadPartCopyCommand') ?? 0) >= 3, 'copied in parts');
    assert.equal(await uploadsUnder(client, s.bucket, 'slo/'), 0, 'the refused first try was aborted');
  } finally {
    client.destroy();
  }
});

for (const when of ['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand'] as const) {
  test(`setAttributes in parts on an object replaced before ${when === 'CreateMultipartUploadCommand' ? 'the part copies' : 'the completion'} fails SOURCE_CHANGED and leaves the new one as placed`, async () => {
    const s = swift();
    const { client, store, before } = countedStore(s, `race-${when}/`);
    const key = `race-${when}/big.bin`;
    try {
      await put(s, key, randomBytes(SIZE), { [MODE_METADATA]: '644', [MTIME_METADATA]: '1' });
      const replacement = randomBytes(SIZE);
      let replaced = 0;
      before.set(when, async () => {
        replaced++;
        await put(s, key, replacement, { [MODE_METADATA]: '640', [MTIME_METADATA]: '2' });
      });
      await assert.rejects(store.setAttributes('big.bin', { mode: 0o600, mtimeMs: 3 }), {
        code: 'SOURCE_CHANGED',
      });
      assert.equal(replaced, 1, 'the replacement came in the middle');
      const now = await read(s, key);
      assert.ok(now.bytes.equals(replacement), 'the replacement keeps its bytes');
      assert.deepEqual(now.metadata, { [MODE_METADATA]: '640', [MTIME_METADATA]: '2' }, 'and its attributes');
      assert.equal(await uploadsUnder(client, s.bucket, `race-${when}/`), 0, 'the upload was aborted');
    } finally {
      client.destroy();
    }
  });
}
