// Issue 14's pipeline on the receiving side, on real transfers: with `threads: 2` on both ends, the server
// opens and hashes uploads on its pool and the client opens and hashes downloads on its own; files land
// byte-identical, a REKEY arriving while records are with the workers is honoured, and a record corrupted in
// flight is refused (DECRYPT_FAILED) by the receiving pool before the retry completes the file. Real TCP on
// loopback through the fault proxy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles, sendFiles } from '../../src/client/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type OpenJob,
  type OpenResult,
} from '../../src/protocol/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { SealPool } from '../../src/transfer/pipeline/seal-pool.js';

// Counts the blocks handed to any pool's workers to open: the real pools run, this only shows they were used.
let blocksOpened = 0;
const open: (this: SealPool, job: OpenJob) => Promise<OpenResult> = Object.getOwnPropertyDescriptor(
  SealPool.prototype,
  'open',
)!.value as (this: SealPool, job: OpenJob) => Promise<OpenResult>;
SealPool.prototype.open = function (this: SealPool, job: OpenJob) {
  blocksOpened += 1;
  return open.call(this, job);
};

const CHUNK_BYTES = 256 * 1024;
const FILE_BYTES = 3 * 1024 * 1024 + 4321;

/** A server with 2 worker threads holding `served.bin`, a copy of `source`; `local` is where downloads go. */
async function rig(
  t: TestContext,
  plan?: PlanFor,
): Promise<ProxiedServer & { source: string; local: string }> {
  const r = await startProxiedServer(t, 'ferry-receive-threads-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    threads: 2,
    retries: 2,
    plan,
  });
  const source = join(r.dir, 'big.bin');
  await writeRandomFile(source, FILE_BYTES);
  await copyFile(source, join(r.root, 'served.bin'));
  blocksOpened = 0;
  return { ...r, source, local: join(r.dir, 'local') };
}

test("an upload opened and hashed by the server's 2 worker threads lands byte-identical, REKEYs included", async (t) => {
  const { proxy, connect, source, root } = await rig(t);
  // Every reading of the client's clock is past the 2-minute key bound (PROTOCOL.md §4.3): REKEY records
  // arrive all through the file, while the server's workers hold the records before them.
  let time = 0;
  const [result] = await sendFiles({
    ...connect,
    files: [source],
    chunkBytes: CHUNK_BYTES,
    threads: 2,
    rekey: { now: () => (time += 121_000) },
  });
  assert.equal(result!.sentBytes, FILE_BYTES);
  assert.equal(proxy.connections.length, 1, 'one session: no record was refused');
  assert.ok(blocksOpened >= 3, `${blocksOpened} blocks opened by workers`);
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
});

test("a download opened and hashed by the client's 2 worker threads lands byte-identical", async (t) => {
  const { proxy, connect, source, local } = await rig(t);
  const [result] = await getFiles({
    ...connect,
    remotePaths: ['served.bin'],
    localDir: local,
    chunkBytes: CHUNK_BYTES,
    threads: 2,
  });
  assert.equal(result!.size, FILE_BYTES);
  assert.equal(proxy.connections.length, 1);
  assert.ok(blocksOpened >= 3, `${blocksOpened} blocks opened by workers`);
  assert.equal(await sha256File(join(local, 'served.bin')), await sha256File(source));
});

test("an upload record corrupted in flight is refused by the server's pool (DECRYPT_FAILED); the retry completes", async (t) => {
  const plan: PlanFor = (index) =>
    index === 0 ? { flipBit: { direction: 'clientToServer', offset: 1024 * 1024 + 100 } } : undefined;
  const { proxy, connect, source, root, sessionResults } = await rig(t, plan);
  await sendFiles({ ...connect, files: [source], chunkBytes: CHUNK_BYTES, threads: 2 });
  assert.ok(proxy.connections.length >= 2, 'the corrupted session ended and a new one finished the file');
  assert.ok(sessionResults().includes('DECRYPT_FAILED'), sessionResults().join(', '));
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
});

test("a download record corrupted in flight is refused by the client's pool; the retry completes byte-identical", async (t) => {
  const plan: PlanFor = (index) =>
    index === 0 ? { flipBit: { direction: 'serverToClient', offset: 2 * 1024 * 1024 + 100 } } : undefined;
  const { proxy, connect, source, local } = await rig(t, plan);
  await getFiles({
    ...connect,
    remotePaths: ['served.bin'],
    localDir: local,
    chunkBytes: CHUNK_BYTES,
    threads: 2,
  });
  assert.ok(proxy.connections.length >= 2, 'the corrupted session ended and a new one finished the file');
  assert.equal(await sha256File(join(local, 'served.bin')), await sha256File(source));
});
