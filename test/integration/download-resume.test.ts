// Downloads resume as verifiably as uploads (PROTOCOL.md §5.11, §9.2): the fault proxy cuts the
// server->client direction of the first connection; the client keeps its verified chunks in a partial
// beside the destination, and the next session fetches only what is missing. Bytes are counted at the proxy.
//
// Bound for the resumed session, server->client, with CHUNK_BYTES chunks:
//   missing file bytes + one chunk (in flight when durability was counted)
//   + 90 bytes per chunk sent (GET_DATA record: 2 + 13 + 16 around the data; GET_CHUNK record: 2 + 41 + 16)
//   + 2 KiB per session (version answer and handshake message 2: 1210, WELCOME 28, GET_OFFER 42, GET_END 55
//   per file).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { getFiles, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import type { FaultProxy } from '../helpers/fault-proxy.js';
import { startProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const CHUNK_OVERHEAD_BYTES = 90;
const SESSION_OVERHEAD_BYTES = 2048;
const FILE_BYTES = 256 * 1024 + 1000;
// The tree test's big file: 16 chunks. The cut is an RST, and what the proxy had not yet handed to the client
// is lost with it; at 4 chunks (FILE_BYTES) a cut at half then often left no chunk whole, and nothing resumed.
const TREE_BIG_BYTES = 16 * CHUNK_BYTES + 1000;

interface Rig {
  dir: string;
  root: string;
  dest: string;
  proxy: FaultProxy;
  options: (overrides?: Partial<GetFilesOptions>) => GetFilesOptions;
}

async function startRig(t: TestContext): Promise<Rig> {
  const clientIdentity = generateKeyPair();
  const { dir, root, proxy, connect } = await startProxiedServer(t, 'ferry-download-resume-', {
    authorize: (key) =>
      key.equals(clientIdentity.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined,
    clientIdentity,
    retries: 3,
  });
  const dest = join(dir, 'dest');
  return {
    dir,
    root,
    dest,
    proxy,
    options: (overrides = {}) => ({
      ...connect,
      remotePaths: [],
      localDir: dest,
      chunkBytes: CHUNK_BYTES,
      // Every verified chunk is made durable at once, so what the client holds at the cut is exact.
      durableBatchBytes: CHUNK_BYTES,
      ...overrides,
    }),
  };
}

function resumeBound(missingBytes: number): number {
  return (
    missingBytes +
    CHUNK_BYTES +
    (Math.ceil(missingBytes / CHUNK_BYTES) + 1) * CHUNK_OVERHEAD_BYTES +
    SESSION_OVERHEAD_BYTES
  );
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((n) => /\.ferry-(part|state)$/.test(n));
}

test('a download cut server->client at 55 % resumes on a new session with only the missing chunks, and the file is correct', async (t) => {
  const rig = await startRig(t);
  const sourceSha = await writeRandomFile(join(rig.root, 'payload.bin'), FILE_BYTES);
  const cutAfterBytes = Math.floor(FILE_BYTES * 0.55);
  rig.proxy.setPlan((i) =>
    i === 0 ? { cut: { afterBytes: cutAfterBytes, direction: 'serverToClient', landed: true } } : undefined,
  );

  const events: GetEvent[] = [];
  const [result] = await getFiles(
    rig.options({ remotePaths: ['payload.bin'], onEvent: (e) => events.push(e) }),
  );

  assert.equal(rig.proxy.connections.length, 2, 'one cut, one resumed session');
  assert.equal(await sha256File(join(rig.dest, 'payload.bin')), sourceSha);
  assert.deepEqual(await leftovers(rig.dest), [], 'the partial is gone once the file is in place');
  const starts = events.filter((e) => e.type === 'transfer-started');
  assert.equal(starts.length, 2);
  const held = starts[1]!.heldBytes;
  assert.equal(result!.resumedBytes, held);
  // Everything received whole before the cut was kept: at most one chunk (the one cut in half) and the
  // session's own bytes are lost.
  const minimumHeld = cutAfterBytes - 2 * (CHUNK_BYTES + CHUNK_OVERHEAD_BYTES) - SESSION_OVERHEAD_BYTES;
  assert.ok(held >= minimumHeld, `held ${held} bytes after the cut, expected at least ${minimumHeld}`);
  const resumedWire = rig.proxy.bytesSince(1, 'serverToClient');
  const bound = resumeBound(FILE_BYTES - held);
  t.diagnostic(`held ${held}; resumed session carried ${resumedWire} bytes server->client; bound ${bound}`);
  assert.ok(resumedWire <= bound, `resumed session carried ${resumedWire} bytes, bound ${bound}`);
  assert.equal(result!.receivedBytes, FILE_BYTES - held, 'only the missing bytes were received again');
});

test('a download that fails outright keeps `.NAME.ferry-part` beside the destination, and the next getFiles resumes from it', async (t) => {
  const rig = await startRig(t);
  const sourceSha = await writeRandomFile(join(rig.root, 'payload.bin'), FILE_BYTES);
  rig.proxy.setPlan((i) =>
    i === 0
      ? { cut: { afterBytes: Math.floor(FILE_BYTES * 0.4), direction: 'serverToClient', landed: true } }
      : undefined,
  );
  await assert.rejects(
    getFiles(rig.options({ remotePaths: ['payload.bin'], retry: { retries: 0 } })),
    (err: { code?: string }) => err.code === 'CONNECTION_RESET' || err.code === 'CONNECTION_CLOSED',
  );
  assert.deepEqual((await readdir(rig.dest)).sort(), ['.payload.bin.ferry-part', '.payload.bin.ferry-state']);
  const partialBytes = (await stat(join(rig.dest, '.payload.bin.ferry-part'))).size;
  assert.equal(partialBytes, FILE_BYTES, 'the partial is allocated at the full size');

  const [result] = await getFiles(rig.options({ remotePaths: ['payload.bin'] }));
  assert.ok(result!.resumedBytes > 0, 'the second run resumed');
  assert.ok(rig.proxy.bytesSince(1, 'serverToClient') <= resumeBound(FILE_BYTES - result!.resumedBytes));
  assert.equal(await sha256File(join(rig.dest, 'payload.bin')), sourceSha);
  assert.deepEqual(await readdir(rig.dest), ['payload.bin']);
});

test('rerunning an interrupted tree download skips the files already complete as identical and resumes the partial one', async (t) => {
  const rig = await startRig(t);
  const tree = join(rig.root, 'tree');
  await mkdir(join(tree, 'sub'), { recursive: true });
  const shas: Record<string, string> = {};
  const sizes: Record<string, number> = {
    '1-small': 5000,
    '2-small': 7000,
    'sub/3-big': TREE_BIG_BYTES,
    'sub/4-after': 3000,
  };
  for (const [name, size] of Object.entries(sizes))
    shas[name] = await writeRandomFile(join(tree, name), size);
  // Cut in the middle of the big file: the two small ones (and the listing) come first.
  const cutAfterBytes = 5000 + 7000 + Math.floor(TREE_BIG_BYTES / 2);
  rig.proxy.setPlan((i) =>
    i === 0 ? { cut: { afterBytes: cutAfterBytes, direction: 'serverToClient', landed: true } } : undefined,
  );
  await assert.rejects(
    getFiles(rig.options({ remotePaths: ['tree'], recursive: true, retry: { retries: 0 } })),
  );
  assert.ok(
    (await readdir(join(rig.dest, 'tree', 'sub'))).includes('.3-big.ferry-part'),
    'the big file is partial',
  );

  const finished = new Map<string, { identical: boolean; resumedBytes: number; receivedBytes: number }>();
  const resumedEvents: string[] = [];
  await getFiles(
    rig.options({
      remotePaths: ['tree'],
      recursive: true,
      onEvent: (e) => {
        if (e.type === 'transfer-finished')
          finished.set(e.remotePath, { ...e, receivedBytes: e.transferredBytes });
        if (e.type === 'transfer-resumed') resumedEvents.push(e.remotePath);
      },
    }),
  );
  for (const [name, sha] of Object.entries(shas))
    assert.equal(await sha256File(join(rig.dest, 'tree', name)), sha, name);
  assert.equal(finished.get('tree/1-small')?.identical, true, 'complete files are skipped as identical');
  assert.equal(finished.get('tree/2-small')?.identical, true);
  assert.equal(finished.get('tree/1-small')?.receivedBytes, 0);
  const big = finished.get('tree/sub/3-big')!;
  assert.equal(big.identical, false);
  assert.ok(
    big.resumedBytes >= TREE_BIG_BYTES / 2 - 4 * CHUNK_BYTES,
    `big file resumed from ${big.resumedBytes}, expected at least half of it less 4 chunks`,
  );
  assert.equal(big.receivedBytes, TREE_BIG_BYTES - big.resumedBytes);
  assert.equal(finished.get('tree/sub/4-after')?.receivedBytes, 3000);
  assert.deepEqual(resumedEvents, ['tree/sub/3-big'], 'only the partial file is reported as resumed');
  const bound = resumeBound(TREE_BIG_BYTES - big.resumedBytes + 3000) + 4 * SESSION_OVERHEAD_BYTES;
  assert.ok(rig.proxy.bytesSince(1, 'serverToClient') <= bound, 'the rerun fetched only what was missing');
  assert.deepEqual(await leftovers(rig.dest), []);
});
