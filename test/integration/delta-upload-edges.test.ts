// Delta uploads at their edges (PROTOCOL.md §5.15), the cases test/integration/delta-uploads.test.ts leaves out:
// an emptied file, and an old file too small to be a base (under one block), both replaced byte-exact over
// real TCP on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const NAME = 'data.bin';

async function replace(t: TestContext, old: Buffer, next: Buffer): Promise<{ up: number; placed: Buffer }> {
  const dir = await makeTempDir('ferry-delta-edges-');
  t.after(() => removeTempDir(dir));
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  await mkdir(join(dir, 'src'));
  await writeFile(join(root, NAME), old);
  await writeFile(join(dir, 'src', NAME), next);
  const identity = generateKeyPair();
  const server = await FerryServer.start({
    root,
    host: '127.0.0.1',
    port: 0,
    identity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => server.close());
  const proxy = await FaultProxy.start({ target: server.address });
  t.after(() => proxy.close());
  await sendFiles({
    server: proxy.address,
    files: [join(dir, 'src', NAME)],
    identity: generateKeyPair(),
    verifyServer: (key: Buffer) => assert.ok(key.equals(identity.publicKey)),
    overwrite: true,
    retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
  });
  return { up: proxy.totalBytes('clientToServer'), placed: await readFile(join(root, NAME)) };
}

test('delta upload of an emptied file: the server’s file becomes empty', async (t) => {
  const { placed, up } = await replace(t, randomBytes(600 * 1024), Buffer.alloc(0));
  assert.equal(placed.length, 0);
  assert.ok(up < 8 * 1024, `${up} bytes client->server`);
});

test('delta upload onto an empty old file (under one block, no base): the new file goes whole, byte-exact', async (t) => {
  const next = randomBytes(600 * 1024);
  const { placed, up } = await replace(t, Buffer.alloc(0), next);
  assert.ok(placed.equals(next));
  assert.ok(up > next.length, `${up} bytes: the whole file travelled`);
});
