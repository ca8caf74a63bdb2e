// Parallel streams (PROTOCOL.md §5.13): one file over several TCP connections, each its own session,
// chunks spread across them and written at their offsets; and a resume that stays exact when one of the
// streams is cut. Real TCP on loopback through the fault proxy, which counts connections and bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sendFiles, type SendFilesOptions } from '../../src/client/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
/**
 * 64 whole chunks. The primary pulls chunks from the shared cursor while each joined stream still waits for its
 * PUT_ACCEPT, and loopback socket buffers take several 64 KiB chunks before backpressure: at 16 chunks the last
 * stream to join was often left 3 (below the "more than 4" asked of each), and a loaded machine could leave the
 * cut test's joined stream under its 200 KiB cut (the attempt then ended without a retry).
 */
const FILE_BYTES = 4 * 1024 * 1024 + 777;
const STREAMS = 3;

async function rig(
  t: TestContext,
  plan?: PlanFor,
): Promise<ProxiedServer & { options: SendFilesOptions; source: string }> {
  const r = await startProxiedServer(t, 'ferry-streams-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    retries: 3,
    plan,
  });
  const source = join(r.dir, 'big.bin');
  await writeRandomFile(source, FILE_BYTES);
  return {
    ...r,
    source,
    options: {
      ...r.connect,
      files: [source],
      chunkBytes: CHUNK_BYTES,
      streams: STREAMS,
      parallelMinBytes: 0,
    },
  };
}

test('a file sent with 3 streams travels over 3 connections, each carrying chunks, and lands byte-identical', async (t) => {
  const { proxy, options, source, root } = await rig(t);
  const [result] = await sendFiles(options);
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
  assert.equal(proxy.connections.length, STREAMS);
  for (const connection of proxy.connections) {
    // Every stream carried at least a few chunks of data, not just its handshake and offer.
    assert.ok(connection.bytes.clientToServer > 4 * CHUNK_BYTES, `stream ${connection.index} carried data`);
  }
  assert.equal(result!.sentBytes, FILE_BYTES);
  // Counted at the proxy: the file once, plus record overhead (§4, §5.5), never a chunk twice.
  const wire = proxy.totalBytes('clientToServer');
  assert.ok(wire >= FILE_BYTES && wire < FILE_BYTES + 64 * 1024, `wire bytes ${wire}`);
});

test('a joined stream cut mid-transfer fails the attempt; the retry resumes from the held chunks and the file is exact', async (t) => {
  // The second connection (a joined stream of the first attempt) is reset after 200 KiB.
  const plan: PlanFor = (index) => (index === 1 ? { cut: { afterBytes: 200 * 1024 } } : undefined);
  const { proxy, options, source, root } = await rig(t, plan);
  const events: string[] = [];
  const [result] = await sendFiles({ ...options, onEvent: (e) => events.push(e.type) });
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
  assert.ok(events.includes('retrying'), 'the cut made the client retry');
  assert.ok(proxy.connections.length >= 2 * STREAMS - 1, `${proxy.connections.length} connections`);
  // The resumed attempt sent only what the server did not hold, plus at most one chunk per stream in flight.
  assert.ok(result!.resumedBytes > 0, 'the retry resumed from held chunks');
  assert.equal(result!.resumedBytes + result!.sentBytes, FILE_BYTES);
});

test('16 streams under the caller`s AbortSignal: no listener-leak warning (each session listens on a signal of its own scope)', async (t) => {
  const { options, source, root } = await rig(t);
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const controller = new AbortController();
  await sendFiles({ ...options, streams: 16, signal: controller.signal });
  assert.equal(await sha256File(join(root, 'big.bin')), await sha256File(source));
  // Node emits warnings on the next tick: let it run before looking.
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(
    warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
    [],
  );
});

test('an abort during a send on 16 streams stops it ABORTED and closes every connection', async (t) => {
  const { proxy, options } = await rig(t);
  const controller = new AbortController();
  const sent = sendFiles({
    ...options,
    streams: 16,
    retry: { ...options.retry, retries: 0 },
    signal: controller.signal,
    onEvent: (event) => {
      if (event.type === 'progress') controller.abort();
    },
  });
  await assert.rejects(sent, { code: 'ABORTED' });
  assert.ok(proxy.connections.length > 1, `${proxy.connections.length} connections`);
  await Promise.all(proxy.connections.map((connection) => connection.closed));
});
