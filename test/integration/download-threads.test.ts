// Issue 14's pipeline on the server's side: a download whose data the server hashes and seals on worker
// threads (`threads: 2`) lands byte-identical, over one stream and striped over three, and a record
// corrupted in flight is still refused by the client (DECRYPT_FAILED) before a retry completes the file.
// Real TCP on loopback through the fault proxy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { FaultProxy, type PlanFor } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
const FILE_BYTES = 2 * 1024 * 1024 + 999;

async function rig(
  t: TestContext,
  plan?: PlanFor,
): Promise<{ proxy: FaultProxy; options: GetFilesOptions; source: string; dest: string }> {
  const dir = await makeTempDir('ferry-get-threads-');
  const serverIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    host: '127.0.0.1',
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
    threads: 2,
  });
  const proxy = await FaultProxy.start({ target: server.address, ...(plan ? { plan } : {}) });
  t.after(async () => {
    await proxy.close();
    await server.close();
    await removeTempDir(dir);
  });
  const source = join(server.root, 'big.bin');
  await writeRandomFile(source, FILE_BYTES);
  const dest = join(dir, 'dest');
  return {
    proxy,
    source,
    dest,
    options: {
      server: proxy.address,
      identity: generateKeyPair(),
      verifyServer: (key) => assert.ok(key.equals(serverIdentity.publicKey)),
      remotePaths: ['big.bin'],
      localDir: dest,
      chunkBytes: CHUNK_BYTES,
      durableBatchBytes: CHUNK_BYTES,
      retry: { retries: 2, random: () => 0, sleep: () => Promise.resolve() },
    },
  };
}

test('a download the server seals on 2 worker threads lands byte-identical', async (t) => {
  const { options, source, dest } = await rig(t);
  await getFiles(options);
  assert.equal(await sha256File(join(dest, 'big.bin')), await sha256File(source));
});

test('a download sealed on 2 worker threads and striped over 3 streams lands byte-identical', async (t) => {
  const { proxy, options, source, dest } = await rig(t);
  await getFiles({ ...options, streams: 3, parallelMinBytes: 1024 * 1024 });
  assert.equal(proxy.connections.length, 3);
  assert.equal(await sha256File(join(dest, 'big.bin')), await sha256File(source));
});

test('a record sealed by a server worker and corrupted in flight is refused (DECRYPT_FAILED); the retry completes the file', async (t) => {
  const plan: PlanFor = (index) =>
    index === 0 ? { flipBit: { direction: 'serverToClient', offset: 1024 * 1024 + 100 } } : undefined;
  const { proxy, options, source, dest } = await rig(t, plan);
  const events: GetEvent[] = [];
  await getFiles({ ...options, onEvent: (e) => events.push(e) });
  assert.ok(proxy.connections.length >= 2, 'the corrupted session ended and a new one finished the file');
  const reasons = JSON.stringify(events);
  assert.ok(reasons.includes('DECRYPT_FAILED'), `events: ${reasons.slice(0, 400)}`);
  assert.equal(await sha256File(join(dest, 'big.bin')), await sha256File(source));
});
