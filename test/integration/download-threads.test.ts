// Issue 14's pipeline on the server's side: a download whose data the server hashes and seals on worker
// threads (`threads: 2`) lands byte-identical, over one stream and striped over three, and a record
// corrupted in flight is still refused by the client (DECRYPT_FAILED) before a retry completes the file.
// Real TCP on loopback through the fault proxy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { getFiles, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
const FILE_BYTES = 2 * 1024 * 1024 + 999;

async function rig(
  t: TestContext,
  plan?: PlanFor,
): Promise<ProxiedServer & { options: GetFilesOptions; source: string; dest: string }> {
  const r = await startProxiedServer(t, 'ferry-get-threads-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    threads: 2,
    retries: 2,
    plan,
  });
  const source = join(r.root, 'big.bin');
  await writeRandomFile(source, FILE_BYTES);
  const dest = join(r.dir, 'dest');
  return {
    ...r,
    source,
    dest,
    options: {
      ...r.connect,
      remotePaths: ['big.bin'],
      localDir: dest,
      chunkBytes: CHUNK_BYTES,
      durableBatchBytes: CHUNK_BYTES,
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
