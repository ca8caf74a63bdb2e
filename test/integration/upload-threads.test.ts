// Issue 14's pipeline on a real transfer: an upload whose data is hashed and sealed by worker threads
// (`threads: 2`, a SealPool) lands byte-identical, over one stream and over parallel streams, and a record
// corrupted in flight is still refused by the server (DECRYPT_FAILED) before the retry completes the file.
// Real TCP on loopback through the fault proxy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sendFiles, type SendFilesOptions } from '../../src/client/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
const FILE_BYTES = 2 * 1024 * 1024 + 4321;

async function rig(
  t: TestContext,
  plan?: PlanFor,
): Promise<ProxiedServer & { options: SendFilesOptions; source: string }> {
  const r = await startProxiedServer(t, 'ferry-threads-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    retries: 2,
    plan,
  });
  const source = join(r.dir, 'big.bin');
  await writeRandomFile(source, FILE_BYTES);
  return {
    ...r,
    source,
    options: { ...r.connect, files: [source], chunkBytes: CHUNK_BYTES, threads: 2 },
  };
}

test('an upload sealed by 2 worker threads lands byte-identical', async (t) => {
  const { options, source, root } = await rig(t);
  const [result] = await sendFiles(options);
  assert.equal(result!.sentBytes, FILE_BYTES);
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
});

test('an upload sealed by 2 worker threads over 3 parallel streams lands byte-identical', async (t) => {
  const { proxy, options, source, root } = await rig(t);
  await sendFiles({ ...options, streams: 3, parallelMinBytes: 0 });
  assert.equal(proxy.connections.length, 3);
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
});

test('a record sealed by a worker and corrupted in flight is refused (DECRYPT_FAILED); the retry completes the file', async (t) => {
  // One bit of the first connection flipped about 1 MiB in: inside a PUT_DATA record sealed by a worker.
  const plan: PlanFor = (index) =>
    index === 0 ? { flipBit: { direction: 'clientToServer', offset: 1024 * 1024 + 100 } } : undefined;
  const { proxy, options, source, root, sessionResults } = await rig(t, plan);
  await sendFiles(options);
  assert.ok(proxy.connections.length >= 2, 'the corrupted session ended and a new one finished the file');
  const closed = sessionResults();
  assert.ok(closed.includes('DECRYPT_FAILED'), `sessions ended: ${closed.join(', ')}`);
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
});

test('the send key passes its 2-minute bound while blocks are reserved for 2 workers: REKEYs in nonce order, byte-identical', async (t) => {
  // Baseline: the same upload on the real clock (no rekey in a test this short), to count its records.
  const plain = await rig(t);
  await sendFiles(plain.options);
  const baseline = plain.proxy.connections[0]!.frames.clientToServer;
  // Every reading of this clock is 121 s after the last (PROTOCOL.md §4.3: REKEY_INTERVAL_MS is 2 minutes), so
  // every record sealed on the event loop and every reservation for the workers is preceded by a REKEY,
  // while up to 6 blocks (2 threads x 3) are reserved and not yet written.
  let time = 0;
  const { proxy, options, source, root } = await rig(t);
  const [result] = await sendFiles({ ...options, rekey: { now: () => (time += 121_000) } });
  assert.equal(result!.sentBytes, FILE_BYTES);
  assert.equal(proxy.connections.length, 1, 'one session: no record was refused');
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
  // One REKEY record per reservation at least: a block never spans a chunk, so >= 33 blocks of 64 KiB chunks.
  const rekeys = proxy.connections[0]!.frames.clientToServer - baseline;
  assert.ok(rekeys >= Math.ceil(FILE_BYTES / CHUNK_BYTES), `${rekeys} REKEY records`);
});
