// SET_ATTRIBUTES on an object store (PROTOCOL.md §5.19) is a copy of the object onto itself: every byte of it
// moves inside the store (in part copies past 5 GiB) for a request of a few bytes, and a client could repeat
// it without end on its largest object. Such copies are now paid from the budget for work that sends no data
// (per client and in total, docs/SECURITY.md "Hashing on request"), before the copy. Against a real Swift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { MODE_METADATA, MTIME_METADATA, S3PartialStore } from '../../src/objectstore/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const MIB = 1024 * 1024;

test('each SET_ATTRIBUTES on an object store pays the object`s size from the client`s budget before its copy; a missing path pays nothing', async (t) => {
  const s = swift();
  const dir = await makeTempDir('ferry-attribute-copies-');
  const client = generateKeyPair();
  let clock = 1_000_000;
  const waits: number[] = [];
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(s.client, { bucket: s.bucket, prefix: 'srv/' }),
    hashBudget: {
      bytesPerSecond: MIB,
      burstBytes: 3 * MIB,
      now: () => clock,
      sleep: (ms) => {
        waits.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    },
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  await s.client.send(
    new PutObjectCommand({
      Bucket: s.bucket,
      Key: 'srv/big.bin',
      Body: Buffer.alloc(2 * MIB, 1),
      Metadata: { [MODE_METADATA]: '644', [MTIME_METADATA]: '1000' },
    }),
  );
  const session = await openAdmittedSession(t, server.address, client);
  const set = async (ref: number, path: string): Promise<string> => {
    await session.send({ type: 'SET_ATTRIBUTES', ref, path, mode: 0o600, mtimeMs: 2000 + ref });
    const reply = await session.receive();
    return reply.type === 'ERROR' ? `ERROR ${reply.code}` : reply.type;
  };
  assert.equal(await set(1, 'big.bin'), 'ACK'); // 2 MiB of the 3 MiB burst
  assert.deepEqual(waits, []);
  assert.equal(await set(2, 'missing.bin'), `ERROR ${ERROR_CODES.PATH_NOT_FOUND.wire}`);
  assert.deepEqual(waits, [], 'nothing there, nothing copied, nothing paid');
  assert.equal(await set(3, 'big.bin'), 'ACK'); // 1 MiB short at 1 MiB/s
  assert.deepEqual(waits, [1000]);
  assert.equal(await set(4, 'big.bin'), 'ACK'); // 2 MiB more
  assert.deepEqual(waits, [1000, 2000]);
});
