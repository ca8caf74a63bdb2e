// An object-store listing is collected whole before it is sent (S3 lists keys in byte order, not tree order,
// so the server sorts them first), where a disk listing streams. Only its entries were counted while it was
// collected (1,000,000), so one LIST_REQUEST of a bucket of long keys held up to about 1 GiB until the send,
// and every session of every client could do so at once. Now each entry's bytes are taken from the server's
// listing memory, per client and in total, while it is collected: past it the listing is refused with
// SERVER_BUSY, and what it held is given back. Against a real Swift, the limit injected small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { listFiles } from '../../src/client/index.js';
import { serveObjectStore } from '../helpers/object-store-server.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();

/** 200 keys of 190-byte paths under `t/`: about 90 KiB as the listing holds them. */
const KEYS = Array.from({ length: 200 }, (_, i) => `t/${'k'.repeat(180)}-${String(i).padStart(5, '0')}`);
const PER_CLIENT = 32 * 1024;

test('an object-store listing is bounded by bytes while it is collected', async (t) => {
  const s = swift();
  const prefix = `listing-memory-${Date.now()}/`;
  const put = (key: string): Promise<unknown> =>
    s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}${key}`, Body: 'x' }));
  for (let i = 0; i < KEYS.length; i += 25) await Promise.all(KEYS.slice(i, i + 25).map(put));
  await put('small/a');
  await put('small/b');
  const { server, key } = await serveObjectStore(t, s, prefix, {
    listingMemory: { perClientBytes: PER_CLIENT, totalBytes: 48 * 1024 },
  });
  const connect = {
    server: server.address,
    identity: key,
    verifyServer: () => undefined,
    retry: { retries: 0 },
  };
  const outcome = (namesOnly: boolean): Promise<string> =>
    listFiles({ ...connect, remotePath: 't', recursive: true, namesOnly }).then(
      (listing) => `listed ${listing.entries.length}`,
      (err: { code?: string }) => String(err.code),
    );
  // Before: both listed all 200 entries, whatever the bytes held.
  assert.equal(await outcome(false), 'SERVER_BUSY');
  assert.equal(await outcome(true), 'SERVER_BUSY');
  // Refused before the bound was passed, and all of it given back: a small listing goes.
  assert.ok(server.listingMemory.peakBytes <= PER_CLIENT, `${server.listingMemory.peakBytes} held`);
  assert.equal(server.listingMemory.heldBytes, 0);
  const small = await listFiles({ ...connect, remotePath: 'small', recursive: true });
  assert.deepEqual(
    small.entries.map((e) => e.path),
    ['a', 'b'],
  );
  assert.equal(server.listingMemory.heldBytes, 0);
});
